import { Command } from 'commander';
import { PATTERNS } from '../patterns/registry.js';

/** Adds `patterns`: every pattern with its parameters and defaults. */
export function addPatternsCommand(program: Command): void {
  program
    .command('patterns')
    .description('list the layout patterns, their parameters and defaults')
    .option('--json', 'print JSON', false)
    .action((options: { json: boolean }) => {
      if (options.json) {
        const list = PATTERNS.map(({ build: _build, ...rest }) => rest);
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      for (const d of PATTERNS) {
        const aliases = d.aliases.length ? ` (also: ${d.aliases.join(', ')})` : '';
        lines.push(`${d.name}${aliases}: ${d.summary}${d.shape === 'cut' ? '; rectangular shapes are cut from the square graph' : d.shape === 'square' ? '; square only' : ''}`);
        for (const param of d.params) {
          if (param.kind === 'boolean') {
            lines.push(param.default === true ? `    --no-${param.name}  not: ${param.help} [default: on]` : `    --${param.name}  ${param.help} [default: off]`);
            continue;
          }
          const def = param.default === undefined ? '' : ` [default: ${String(param.default)}]`;
          lines.push(`    --${param.name}  ${param.help}${def}`);
        }
      }
      lines.push('OpenAI presets: dense, ws_<m>_<pct>, ba_<m>, bae_<m>_<e>, br_<m> (square; see docs/patterns.md)');
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
