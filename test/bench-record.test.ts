import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatRecord, gitCommit, machineInfo, recordStdout, writeRecord } from '../bench/record.js';

const machine = { cpu: 'Test CPU', cores: 2, node: 'v20.0.0' };

describe('bench result records', () => {
  it('writes a dated record with the machine, the commit, the command and the output', () => {
    const dir = mkdtempSync(join(tmpdir(), 'blocksparse-bench-'));
    const record = { name: 'generate', date: new Date('2025-03-04T05:06:07Z'), machine, commit: 'abc1234', command: 'node bench/generate.ts', output: 'ours 0.017 s\n' };
    const path = writeRecord(record, dir);
    expect(path).toBe(join(dir, 'generate-2025-03-04.md'));
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(formatRecord(record));
    expect(text).toContain('- machine: Test CPU, 2 cores, node v20.0.0');
    expect(text).toContain('- commit: abc1234');
    expect(text).toContain('- command: `node bench/generate.ts`');
    expect(text).toContain('```\nours 0.017 s\n```');
    // A second run on the same day keeps the first.
    expect(writeRecord(record, dir)).toBe(join(dir, 'generate-2025-03-04-2.md'));
    expect(readdirSync(dir).sort()).toEqual(['generate-2025-03-04-2.md', 'generate-2025-03-04.md']);
  });

  it('copies standard output until stopped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'blocksparse-bench-'));
    const stop = recordStdout('study', { dir, command: 'npm run bench:study' });
    process.stdout.write('line one\n');
    process.stdout.write('line two\n');
    const path = stop();
    process.stdout.write('');
    expect(stop()).toBeNull();
    const text = readFileSync(path!, 'utf8');
    expect(text).toMatch(/^# bench: study, \d{4}-\d{2}-\d{2}\n/);
    expect(text).toContain('line one\nline two\n```');
    expect(text).toContain(`- commit: ${gitCommit()}`);
    expect(text).toContain(`${machineInfo().cores} cores`);
  });
});
