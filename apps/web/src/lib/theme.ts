/**
 * Dark and light themes: the system's preference (prefers-color-scheme) unless the user picked one
 * with the toggle (remembered in localStorage). Colours live in CSS variables; the terminal gets a
 * matching xterm theme through `onChange`.
 */
export type Theme = 'dark' | 'light';
const KEY = 'solgate.theme';

function chosen(): Theme | undefined {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'dark' || v === 'light' ? v : undefined;
  } catch {
    return undefined;
  }
}

const systemTheme = (): Theme => (matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark');

export function currentTheme(): Theme {
  return chosen() ?? systemTheme();
}

export function setupTheme(toggle: HTMLButtonElement | null, onChange: (t: Theme) => void = () => {}): Theme {
  const apply = (t: Theme) => {
    document.documentElement.dataset.theme = t;
    if (toggle) {
      toggle.setAttribute('aria-pressed', String(t === 'dark'));
      toggle.textContent = t === 'dark' ? 'Light theme' : 'Dark theme';
      toggle.title = `Switch to the ${t === 'dark' ? 'light' : 'dark'} theme`;
    }
    onChange(t);
  };
  apply(currentTheme());
  matchMedia('(prefers-color-scheme: light)').addEventListener('change', () => {
    if (!chosen()) apply(systemTheme());
  });
  toggle?.addEventListener('click', () => {
    const next: Theme = currentTheme() === 'dark' ? 'light' : 'dark';
    try {
      localStorage.setItem(KEY, next);
    } catch {
      /* not remembered */
    }
    apply(next);
  });
  return currentTheme();
}
