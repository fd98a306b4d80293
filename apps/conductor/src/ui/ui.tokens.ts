/** Nest injection tokens of the web console (values built in ui.module.ts). */
export const UI_RUNTIME = Symbol('UiRuntime');
export const UI_ASSETS = Symbol('UiAssets');
export const UI_AUTH = Symbol('UiAuth');
export const UI_CONSOLES = Symbol('UiConsoleControl');
