// Render LaTeX fragments with KaTeX and parse JSON documents, for tests/matdiff/latex.rs.
//
//   node .ci/katex/check.js INPUT.json
//
// INPUT.json is {"fragments": ["\\frac{...}", ...], "json": ["{...}", ...]}. Every
// fragment is rendered in display mode with throwOnError (an unknown macro is an error)
// and strict: "error" (no Unicode or other non-LaTeX input). Prints `katex <version>`,
// then one line per item: `ok fragment <i>`, `fail fragment <i> <message>`, `ok json <i>`
// or `fail json <i> <message>`. Exits 3 when the katex package is not installed
// (`npm ci --prefix .ci/katex`), 2 on a bad input file, 0 otherwise.
'use strict';
const fs = require('fs');

let katex;
try {
  katex = require('katex');
} catch (e) {
  console.log('katex not installed: run `npm ci --prefix .ci/katex`');
  process.exit(3);
}

let input;
try {
  input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
} catch (e) {
  console.log(`bad input: ${e.message}`);
  process.exit(2);
}

const oneLine = (s) => String(s).replace(/\s+/g, ' ');
const lines = [`katex ${katex.version}`];
(input.fragments || []).forEach((tex, i) => {
  try {
    katex.renderToString(tex, { displayMode: true, throwOnError: true, strict: 'error' });
    lines.push(`ok fragment ${i}`);
  } catch (e) {
    lines.push(`fail fragment ${i} ${oneLine(e.message)}`);
  }
});
(input.json || []).forEach((doc, i) => {
  try {
    const v = JSON.parse(doc);
    if (!Array.isArray(v.results)) throw new Error('no `results` array');
    for (const r of v.results) {
      for (const key of ['wrt', 'kind', 'text', 'latex', 'fragment']) {
        if (typeof r[key] !== 'string') throw new Error(`result without a string \`${key}\``);
      }
      katex.renderToString(r.fragment, { displayMode: true, throwOnError: true, strict: 'error' });
    }
    lines.push(`ok json ${i}`);
  } catch (e) {
    lines.push(`fail json ${i} ${oneLine(e.message)}`);
  }
});
console.log(lines.join('\n'));
