/**
 * Canonical road names. ANTT's `trecho` column spells one road several ways, inside one file and across files:
 * "BR-070/MT" and "BR-70/MT", "BR-116/BA" and "BR-116/BA - Cont VC", "BA-526" and "526/BA", "Contorno" and
 * "CONTORNO". The rules, applied in order (docs/numbers.md, "Road names", documents them for users):
 *
 * 1. Accents are stripped, the text is upper-cased, and runs of whitespace become one space.
 * 2. A federal road, `BR` + number + `/` + state, becomes `BR-NNN/UF` with the number zero-padded to three
 *    digits. Anything after the state (" - Cont VC", " (Contorno de Vitória)") names a bypass or section of that
 *    same road and is dropped, so its deaths count towards the road.
 * 3. A state road, `UF-NNN` or a bare `NNN/UF`, becomes `UF-NNN` (a federal road without its state, "BR-70",
 *    becomes "BR-070" by the same rule). The bare form only ever appears for state roads
 *    in the published files (the federal ones always carry "BR"), e.g. "526/BA" next to "BA-526".
 * 4. Anything else is a local name (a bypass, a bridge section, an access road) and is kept, normalised by rule 1.
 */
const FEDERAL = /^BR\s*-?\s*0*(\d{1,3})\s*\/\s*([A-Z]{2})\b/;
const STATE_PREFIXED = /^([A-Z]{2})\s*-\s*0*(\d{1,3})$/;
const STATE_BARE = /^0*(\d{1,3})\s*\/\s*([A-Z]{2})$/;

export function canonicalRoadName(trecho: string): string {
  const text = trecho
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toUpperCase()
    .replace(/\s+/g, " ")
    .trim();

  const federal = FEDERAL.exec(text);
  if (federal) return `BR-${pad(federal[1])}/${federal[2]}`;

  const prefixed = STATE_PREFIXED.exec(text);
  if (prefixed) return `${prefixed[1]}-${pad(prefixed[2])}`;

  const bare = STATE_BARE.exec(text);
  if (bare) return `${bare[2]}-${pad(bare[1])}`;

  return text;
}

function pad(digits: string | undefined): string {
  return (digits ?? "").padStart(3, "0");
}
