// docker-compose.yml as a production-shaped stack: Temporal (frontend and Web
// UI, no auth of their own) is reachable from this host only, secrets come
// from the environment, images are pinned, nothing calls home.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

interface Service {
  image?: string;
  ports?: (string | number | { target: number; published?: string | number; host_ip?: string })[];
  environment?: Record<string, string | number | boolean | null> | string[];
  command?: string[] | string;
}

const file = fs.readFileSync(path.resolve(__dirname, '../../docker-compose.yml'), 'utf8');
const compose = parse(file, { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);

/** Host address each published port binds (short syntax `[ip:]host:container`, or long syntax). */
function bindings(service: Service): { hostIp: string; spec: string }[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') return { hostIp: port.host_ip ?? '0.0.0.0', spec: JSON.stringify(port) };
    const parts = String(port).replace(/\/(tcp|udp)$/, '').split(':');
    // [ip, host, container] | [host, container] | [container]
    return { hostIp: parts.length === 3 ? parts[0]! : '0.0.0.0', spec: String(port) };
  });
}

function env(service: Service): Record<string, string> {
  const e = service.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv) => [kv.split('=')[0]!, kv.split('=').slice(1).join('=')]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

test('Temporal and its Web UI publish ports on loopback only', () => {
  const temporal = services.filter(([, s]) => s.image?.startsWith('temporalio/'));
  expect(temporal.map(([name]) => name)).toEqual(expect.arrayContaining(['temporal', 'temporal-ui']));
  const published = temporal.flatMap(([name, s]) => bindings(s).map((b) => ({ name, ...b })));
  expect(published.length).toBeGreaterThan(0);
  for (const port of published) expect({ service: port.name, port: port.spec, hostIp: port.hostIp }).toEqual({ service: port.name, port: port.spec, hostIp: '127.0.0.1' });
});

test('every image is pinned to a version, and the deprecated auto-setup image is gone', () => {
  for (const [name, s] of services) {
    if (!s.image) continue;
    expect({ name, image: s.image }).toEqual({ name, image: expect.stringMatching(/^[^:]+:(?!latest$)[\w.-]*\d[\w.-]*$/) });
    expect(s.image).not.toMatch(/auto-setup/);
  }
});

test('passwords come from the environment, with no default in the file', () => {
  expect(file).not.toMatch(/PASSWORD:-/);
  for (const [name, s] of services) {
    for (const [key, value] of Object.entries(env(s))) {
      if (/PASSWORD|PWD|SECRET|KEY/.test(key) || /:\/\/[^@]*:[^@]*@/.test(value)) {
        expect({ name, key, value }).toEqual({ name, key, value: expect.stringMatching(/\$\{[A-Z_]+:\?/) });
      }
    }
  }
});

test("our processes never run Prisma's update check", () => {
  const ours = services.filter(([, s]) => !s.image || s.image.startsWith('crm-offboarding'));
  expect(ours.length).toBeGreaterThan(0);
  for (const [name, s] of ours) expect({ name, CHECKPOINT_DISABLE: env(s).CHECKPOINT_DISABLE }).toEqual({ name, CHECKPOINT_DISABLE: '1' });
});

test("the image and every npm script that runs the Prisma CLI turn its update check off", () => {
  const root = path.resolve(__dirname, '../..');
  expect(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8')).toMatch(/^ENV [^#]*CHECKPOINT_DISABLE=1/m);
  const scripts = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const prismaCli = Object.entries(scripts).filter(([, cmd]) => /(^|\s)prisma\s/.test(cmd));
  expect(prismaCli.length).toBeGreaterThan(0);
  for (const [name, cmd] of prismaCli) expect({ name, cmd }).toEqual({ name, cmd: expect.stringContaining('CHECKPOINT_DISABLE=1') });
  expect(fs.readFileSync(path.join(root, 'scripts', 'bootstrap.mjs'), 'utf8')).toMatch(/CHECKPOINT_DISABLE: '1'/);
});
