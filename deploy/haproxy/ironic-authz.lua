-- solgate behind HAProxy, beside Ironic: let Ironic authorize the console calls HAProxy sends to solgate.
--
-- solgate does not validate Keystone tokens. Before a GET or PUT of /v1/nodes/{ident}/states/console
-- goes to solgate, this action asks Ironic the same question with the caller's own credentials:
-- GET /v1/nodes/{ident}/states/console with the caller's X-Auth-Token and microversion headers. Ironic's
-- keystonemiddleware validates the token and its policy decides (baremetal:node:get_console; its
-- default rule is the same as baremetal:node:set_console_state's). A 2xx lets the request through;
-- anything else is answered to the caller exactly as Ironic answered (401, 403, 404 for a node Ironic
-- does not have, ...). If Ironic cannot be asked, the caller gets 503: never an unchecked pass.
--
-- Use (haproxy.cfg, HAProxy >= 2.6 built with Lua, as Debian's is):
--   global
--       lua-load /etc/haproxy/ironic-authz.lua
--   backend solgate
--       http-request lua.ironic_authz http://ironic-internal:6385
-- The argument is Ironic's base URL as HAProxy reaches it (no trailing /v1).

local FORWARDED = { 'x-auth-token', 'x-openstack-ironic-api-version', 'openstack-api-version', 'x-openstack-request-id' }

local function ironic_error(status, message)
  -- Ironic's error body: error_message is itself a JSON string
  local inner = string.format('{"faultcode": "Server", "faultstring": "%s", "debuginfo": null}', message)
  return string.format('{"error_message": "%s"}', inner:gsub('\\', '\\\\'):gsub('"', '\\"'))
end

core.register_action('ironic_authz', { 'http-req' }, function(txn, base)
  local path = txn.sf:path()
  local ident = string.match(path, '/v1/nodes/([^/]+)/states/console/?$')
  if ident == nil then
    return -- not a console call: nothing to authorize here
  end
  local headers = {}
  for _, name in ipairs(FORWARDED) do
    local v = txn.sf:req_fhdr(name)
    if v ~= nil and v ~= '' then
      headers[name] = { v }
    end
  end
  local url = string.gsub(base, '/+$', '') .. '/v1/nodes/' .. ident .. '/states/console'
  local ok, res = pcall(function()
    return core.httpclient():get({ url = url, headers = headers, timeout = 10000 })
  end)
  local status = ok and res and tonumber(res.status) or 0
  if status >= 200 and status < 300 then
    return
  end
  local reply = txn:reply()
  if status == 0 then
    reply:set_status(503, 'Service Unavailable')
    reply:add_header('content-type', 'application/json')
    reply:set_body(ironic_error(503, 'The console service could not ask Ironic to authorize this request; retry.'))
  else
    reply:set_status(status, res.reason)
    for _, name in ipairs({ 'content-type', 'www-authenticate', 'x-openstack-ironic-api-minimum-version',
                            'x-openstack-ironic-api-maximum-version', 'x-openstack-ironic-api-version', 'openstack-request-id' }) do
      local v = res.headers and res.headers[name]
      if v ~= nil then
        reply:add_header(name, v[0] or v[1])
      end
    end
    reply:set_body(res.body or '')
  end
  txn:done(reply)
end, 1)
