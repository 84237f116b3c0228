import { spawn, type ChildProcess } from 'node:child_process';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { eventually } from '../events/live';

/**
 * The hub as a separate process, exactly as `npm start` runs it with DATABASE_URL (src/server/main.ts),
 * transpiled once into a temporary folder: faster than ts-node per start and than a type-checking build.
 */

const ROOT = path.resolve(__dirname, '..', '..');

/** src/ and migrations/ as CommonJS, without type checking (tsc checks them elsewhere). */
export async function transpileHub(): Promise<string> {
  const out = await fsp.mkdtemp(path.join(os.tmpdir(), 'hub-crash-build-'));
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error('tsconfig.build.json could not be read');
  const compilerOptions = { ...parsed.options, module: ts.ModuleKind.CommonJS, moduleResolution: undefined, sourceMap: false };
  await Promise.all(
    parsed.fileNames.map(async (file) => {
      const { outputText } = ts.transpileModule(await fsp.readFile(file, 'utf8'), { fileName: file, compilerOptions });
      const target = path.join(out, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await fsp.writeFile(target, outputText);
    }),
  );
  return out;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface HubProcess {
  child: ChildProcess;
  url: string;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startHubProcess(build: string, env: Record<string, string>, port: number): Promise<HubProcess> {
  const child = spawn(process.execPath, [path.join(build, 'src', 'server', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', NODE_PATH: path.join(ROOT, 'node_modules'), ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (d: Buffer) => output.push(String(d)));
  child.stderr!.on('data', (d: Buffer) => output.push(String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}/graphql`;
  const up = eventually(
    'the hub answers /healthz',
    async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200,
    30_000,
  );
  await Promise.race([
    up,
    exited.then(({ code, signal }) => {
      throw new Error(`the hub exited (${code ?? signal}) while starting:\n${output.join('')}`);
    }),
  ]);
  return { child, url, output, exited };
}
