#!/usr/bin/env node
// tools/onnx_check.js: runs an ONNX graph of an ofa BERT (tools/ofa_to_torch.py CKPT --onnx OUT.onnx)
// in ONNX Runtime on the rows it was exported with (OUT.onnx.inputs.json) and compares the logits
// with ofa's own (`ofa eval CKPT --predictions P.tsv --logits`, matched by the index column).
// Setup (ONNX Runtime's CPU library ships inside the npm package; its install script fetches
// optional GPU parts, so skip scripts):  npm install --ignore-scripts onnxruntime-node@1.30.0
// Usage: NODE_PATH=DIR/node_modules node tools/onnx_check.js OUT.onnx P.tsv [--tol 1e-4] [--batch 16]
// Prints one JSON line {"rows": n, "graph_rows": g, "ofa_rows": p, "max_abs_diff": d, "tol": t, "ok": ...}
// (rows: those both sides scored, matched by index); exit 1 when a difference exceeds the tolerance,
// no row matched or the graph's outputs are not the file's logit columns; a note on stderr when
// some rows of either side went unmatched (ofa eval scores SST-2's reporting half of dev unless
// --val-source train).
const fs = require('fs');
const ort = require('onnxruntime-node');
const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf('--' + k); return i >= 0 ? +args[i + 1] : d; };
(async () => {
  const [graph, preds] = args;
  if (!graph || !preds) { console.error('usage: onnx_check.js OUT.onnx P.tsv [--tol 1e-4] [--batch 16]'); process.exit(2); }
  const tol = opt('tol', 1e-4), batch = opt('batch', 16);
  const fail = (msg) => { console.error('onnx_check: ' + msg); process.exit(2); };
  let rows;
  try { rows = JSON.parse(fs.readFileSync(graph + '.inputs.json', 'utf8')); } catch (e) {
    fail(graph + '.inputs.json: ' + (e.code === 'ENOENT' ? 'missing (tools/ofa_to_torch.py CKPT --onnx ' + graph +
         ' writes it beside the graph)' : e.message));
  }
  if (!fs.existsSync(preds)) fail(preds + ': no such file (ofa eval CKPT --predictions ' + preds + ' --logits)');
  const want = new Map();
  const lines = fs.readFileSync(preds, 'utf8').split('\n').filter(l => l.length);
  const head = lines[0].split('\t');
  const lcols = head.map((h, i) => h.startsWith('logit_') ? i : -1).filter(i => i >= 0);
  if (!lcols.length) fail(preds + ': no logit_ columns (ofa eval ... --logits)');
  for (const l of lines.slice(1)) { const f = l.split('\t'); want.set(+f[0], lcols.map(i => +f[i])); }
  const s = await ort.InferenceSession.create(graph, {intraOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const todo = rows.filter(r => want.has(r.index));
  if (todo.length < rows.length || todo.length < want.size)
    console.error('onnx_check: ' + todo.length + ' rows matched by index, of ' + rows.length + ' in the graph\'s inputs and ' +
                  want.size + ' in ' + preds + ' (ofa eval scores SST-2\'s reporting half of dev unless --val-source train)');
  let worst = 0;
  for (let b = 0; b < todo.length; b += batch) {
    const part = todo.slice(b, b + batch), T = Math.max(...part.map(r => r.ids.length)), B = part.length;
    const ids = new BigInt64Array(B * T), types = new BigInt64Array(B * T), lens = new BigInt64Array(B);
    part.forEach((r, i) => {
      r.ids.forEach((x, t) => { ids[i * T + t] = BigInt(x); });
      r.types.forEach((x, t) => { types[i * T + t] = BigInt(x); });
      lens[i] = BigInt(r.ids.length);
    });
    const out = await s.run({ids: new ort.Tensor('int64', ids, [B, T]), types: new ort.Tensor('int64', types, [B, T]),
                             lens: new ort.Tensor('int64', lens, [B])});
    const z = out.logits.data, C = out.logits.dims[1];
    if (C !== lcols.length) { console.error('onnx_check: the graph has ' + C + ' outputs, ' + preds + ' ' + lcols.length + ' logit columns: another model?'); process.exit(1); }
    part.forEach((r, i) => { const w = want.get(r.index); for (let c = 0; c < C; c++) worst = Math.max(worst, Math.abs(z[i * C + c] - w[c])); });
  }
  const ok = todo.length > 0 && worst <= tol;
  console.log(JSON.stringify({peer: 'onnxruntime-' + require('onnxruntime-node/package.json').version, rows: todo.length,
                              graph_rows: rows.length, ofa_rows: want.size, max_abs_diff: worst, tol, ok}));
  process.exit(ok ? 0 : 1);
})();
