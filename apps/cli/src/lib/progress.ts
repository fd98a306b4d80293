import cliProgress from 'cli-progress';

export interface Progress {
  increment(n?: number): void;
  update(value: number): void;
  setTotal(total: number): void;
  stop(): void;
}

const NONE: Progress = { increment: () => undefined, update: () => undefined, setTotal: () => undefined, stop: () => undefined };

/**
 * A progress bar on stderr (never stdout: it carries data only), shown when stderr is a terminal
 * or `--progress` forces it (then, on a pipe, it prints a line every half second and a last one
 * at the end).
 */
export function progressBar(label: string, total: number, { force = false, stream = process.stderr }: { force?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  if (!force && !stream.isTTY) return NONE;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      noTTYOutput: true,
      notTTYSchedule: 500,
      format: `${label} [{bar}] {value}/{total} {percentage}% | {duration_formatted}`,
      hideCursor: false,
      barsize: 30,
    },
    cliProgress.Presets.legacy,
  );
  bar.start(total, 0);
  let stopped = false;
  return {
    increment: (n = 1) => bar.increment(n),
    update: (v) => bar.update(v),
    setTotal: (t) => bar.setTotal(t),
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
