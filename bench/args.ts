/** Minimal `--name value` / `--flag` parsing shared by the bench scripts. */
export interface BenchArgs {
  flag(name: string): boolean;
  value(name: string): string | undefined;
  num(name: string): number | undefined;
}

export function benchArgs(args: string[] = process.argv.slice(2)): BenchArgs {
  const value = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  return {
    flag: (name) => args.includes(`--${name}`),
    value,
    num: (name) => (value(name) !== undefined ? Number(value(name)) : undefined),
  };
}
