import { describe, expect, it } from "vitest";
import { displayText, spreadsheetCell, visibleText } from "./safe-text.js";

describe("visibleText", () => {
  it("shows bidi controls, terminal escapes and other hidden characters as <U+XXXX>", () => {
    expect(visibleText("BR-\u202eLIVE")).toBe("BR-<U+202E>LIVE");
    expect(visibleText("\u001b[2KBR-116\u0007")).toBe("<U+001B>[2KBR-116<U+0007>");
    expect(visibleText("a\u2066b\u2069c\u200bd\u009be")).toBe("a<U+2066>b<U+2069>c<U+200B>d<U+009B>e");
    expect(visibleText("line\r\nbreak")).toBe("line<U+000D><U+000A>break");
  });

  it("leaves ordinary text, accents and other scripts as they are", () => {
    for (const text of ["BR-116/BA", "Rodovia São Paulo–Rio", "طريق", "道路 1", "emoji 🚗"]) {
      expect(visibleText(text)).toBe(text);
    }
  });
});

describe("displayText", () => {
  it("cuts a long name to the limit, ending in …, on whole code points", () => {
    const long = "🚗".repeat(100);
    const shown = displayText(long, 10);
    expect(Array.from(shown)).toHaveLength(10);
    expect(shown.endsWith("…")).toBe(true);
    expect(shown.startsWith("🚗".repeat(9))).toBe(true);
  });

  it("keeps a name within the limit whole, its hidden characters made visible", () => {
    expect(displayText("BR-116/BA", 9)).toBe("BR-116/BA");
    expect(displayText("BR-\u202e116", 60)).toBe("BR-<U+202E>116");
  });
});

describe("spreadsheetCell", () => {
  it.each([
    ['=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'],
    ["+1+1", "'+1+1"],
    ["-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"],
    ["@SUM(1,1)", "'@SUM(1,1)"],
    ["\t=1", "'\t=1"],
    ["\r=1", "'\r=1"],
  ])("neutralises %j", (text, safe) => {
    expect(spreadsheetCell(text)).toBe(safe);
  });

  it.each(["BR-116/BA", "-3", "+1.5", "12,5", "", "a=b"])("leaves %j alone", (text) => {
    expect(spreadsheetCell(text)).toBe(text);
  });
});
