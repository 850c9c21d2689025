// Runs inside a private network namespace (`unshare --net`, only `lo` up), started by
// test/support/netns.ts: relays TCP <-> Unix-socket connections so a program isolated from every real
// network (Orthanc with its HTTP and DICOM ports open on all interfaces) can be reached by, and reach,
// the test's processes on the host only through socket files the test owns. Then runs that program.
//
// argv[2]: JSON { inbound: [{ socket, port }], outbound: [{ port, socket }], command: [file, ...args] }
//   inbound:  connections to the Unix socket `socket` go to 127.0.0.1:`port` in the namespace
//   outbound: connections to 127.0.0.1:`port` in the namespace go to the Unix socket `socket`
'use strict';
const net = require('node:net');
const { spawn } = require('node:child_process');

const spec = JSON.parse(process.argv[2]);

function pipe(a, b) {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}

const servers = [];
const listening = [];
for (const { socket, port } of spec.inbound) {
  const server = net.createServer((c) => pipe(c, net.connect(port, '127.0.0.1')));
  servers.push(server);
  listening.push(new Promise((resolve) => server.listen(socket, resolve)));
}
for (const { port, socket } of spec.outbound) {
  const server = net.createServer((c) => pipe(c, net.connect(socket)));
  servers.push(server);
  listening.push(new Promise((resolve) => server.listen(port, '127.0.0.1', resolve)));
}

const [file, ...args] = spec.command;
const child = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit'] });
child.on('exit', (code) => {
  for (const s of servers) s.close();
  process.exit(code === null ? 1 : code);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill('SIGTERM'));
Promise.all(listening).then(() => process.stdout.write('NETNS_BRIDGE_READY\n'));
