// read-dsmr.js HOST PORT N: a second client of the DSMR feed, for the
// tests. It connects with Node's net module, cuts the stream into
// telegrams at "!" + four hex digits + CR LF, has the npm package
// dsmr-parser check and parse each (it throws on a wrong CRC), and prints
// one JSON line per telegram: {"crc": ..., "objects": {...}}. It exits 0
// after N telegrams, 1 on any error or when the server closes first.
'use strict';
const net = require('net');
const parser = require('dsmr-parser');

const [host, port, want] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
let buf = '';
let got = 0;
const sock = net.connect(port, host);
sock.setEncoding('latin1');
sock.on('data', (chunk) => {
  buf += chunk;
  for (;;) {
    const start = buf.indexOf('/');
    if (start < 0) { buf = ''; return; }
    const m = /![0-9A-Fa-f]{4}\r\n/.exec(buf.slice(start));
    if (!m) { buf = buf.slice(start); return; }
    const end = start + m.index + m[0].length;
    const text = buf.slice(start, end);
    buf = buf.slice(end);
    let t;
    try {
      t = parser.parse(text);
    } catch (e) {
      process.stderr.write('telegram ' + (got + 1) + ': ' + e.message + '\n');
      process.exit(1);
    }
    process.stdout.write(JSON.stringify({ crc: t.crc, objects: t.objects }) + '\n');
    if (++got === want) {
      sock.destroy();
      process.exit(0);
    }
  }
});
sock.on('error', (e) => { process.stderr.write(e.message + '\n'); process.exit(1); });
sock.on('close', () => { process.stderr.write('closed after ' + got + ' telegrams\n'); process.exit(1); });
