import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { linksFromFile, linksFromStore, parseLinks } from "./links.js";

/** The one method linksFromStore needs of an ObjectStore, over a map: the S3 side is tested in tests/. */
function fakeStore(objects: Map<string, string>) {
  let reads = 0;
  return {
    bucket: "roadtoll-test",
    readText: async (key: string) => {
      reads += 1;
      return objects.get(key);
    },
    reads: () => reads,
  };
}

async function imageFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), "roadtoll-links-")), "link.yml");
  await writeFile(path, text);
  return path;
}

describe("linksFromStore", () => {
  it("takes config/link.yml from the bucket when it is there, over the image's file", async () => {
    const store = fakeStore(new Map([["config/link.yml", "Uploaded: https://example.test/u.csv\n"]]));
    const links = linksFromStore(
      store,
      "config/link.yml",
      await imageFile("Baked: https://example.test/b.csv\n"),
    );
    expect(await links()).toEqual({ Uploaded: "https://example.test/u.csv" });
  });

  it("falls back to the image's link.yml when the bucket has none", async () => {
    const links = linksFromStore(
      fakeStore(new Map()),
      "config/link.yml",
      await imageFile("Baked: https://example.test/b.csv\n"),
    );
    expect(await links()).toEqual({ Baked: "https://example.test/b.csv" });
  });

  it("reads the bucket again only after the time to live, so an upload is seen within it", async () => {
    const objects = new Map([["config/link.yml", "One: https://example.test/1.csv\n"]]);
    const store = fakeStore(objects);
    let clock = 0;
    const links = linksFromStore(store, "config/link.yml", "/nonexistent", 60_000, () => clock);
    await links();
    objects.set("config/link.yml", "Two: https://example.test/2.csv\n");
    clock = 59_999;
    expect(await links()).toEqual({ One: "https://example.test/1.csv" });
    clock = 60_000;
    expect(await links()).toEqual({ Two: "https://example.test/2.csv" });
    expect(store.reads()).toBe(2);
  });

  it("fails with ConfigError naming the object when the uploaded file is bad, never falling back silently", async () => {
    const store = fakeStore(new Map([["config/link.yml", "Bad name!: https://example.test/x.csv\n"]]));
    const links = linksFromStore(
      store,
      "config/link.yml",
      await imageFile("Baked: https://example.test/b.csv\n"),
    );
    await expect(links()).rejects.toMatchObject({
      name: "ConfigError",
      message: expect.stringContaining("s3://roadtoll-test/config/link.yml"),
    });
  });
});

describe("parseLinks", () => {
  it.each([
    ["not YAML", "a: [", /not YAML/],
    ["a link that is not a URL", "Name: not-a-url\n", /invalid links file/],
  ])("refuses %s with ConfigError", (_label, text, message) => {
    expect(() => parseLinks(text, "link.yml")).toThrow(message);
  });

  it("reads an empty file as no links", () => {
    expect(parseLinks("", "link.yml")).toEqual({});
  });

  it.each([
    ["file:", "Local: file:///etc/passwd\n", /Local: only http and https links can be downloaded, got file:/],
    [
      "javascript:",
      "Js: javascript:alert(1)\n",
      /Js: only http and https links can be downloaded, got javascript:/,
    ],
    ["data:", "Data: data:text/csv,a\n", /Data: only http and https links can be downloaded, got data:/],
    [
      "a name with a space",
      "Via Sul: https://h/x.csv\n",
      /"Via Sul": a name is letters, digits, _ and - \(1 to 100\)/,
    ],
    ["a list", "- https://h/x.csv\n", /not a map of names to URLs/],
    [
      "a name twice",
      "A: https://h/1.csv\nB: https://h/2.csv\nA: https://h/3.csv\n",
      /the name A appears twice/,
    ],
  ])("refuses %s as --link would, saying where", (_label, text, message) => {
    let error: (Error & { where?: { line?: number } }) | undefined;
    try {
      parseLinks(text, "link.yml");
    } catch (thrown) {
      error = thrown as typeof error;
    }
    expect(error?.name).toBe("ConfigError");
    expect(error?.message).toMatch(message);
    expect(error?.where?.line).toBeGreaterThanOrEqual(1);
  });

  it("keeps every name as written, and answers only for its own names", () => {
    const links = parseLinks("__proto__: https://h/p.csv\nconstructor: https://h/c.csv\n", "link.yml");
    expect(Object.keys(links)).toEqual(["__proto__", "constructor"]);
    expect(links.__proto__).toBe("https://h/p.csv");
    expect(parseLinks("A: https://h/a.csv\n", "link.yml").toString).toBeUndefined();
  });

  it("reads 100,000 links in time linear in the file (10,000 and 100,000 compared)", () => {
    const file = (count: number) =>
      Array.from({ length: count }, (_, i) => `Source_${i}: https://h.example/${i}.csv\n`).join("");
    const time = (text: string) => {
      const started = performance.now();
      expect(Object.keys(parseLinks(text, "link.yml")).length).toBeGreaterThan(0);
      return performance.now() - started;
    };
    const small = file(10_000);
    const large = file(100_000);
    time(small); // warm up
    const ratio = time(large) / time(small);
    // Ten times the links: about ten times the work. Quadratic would be a hundred times.
    expect(ratio).toBeLessThan(40);
  }, 60_000);
});

describe("linksFromFile", () => {
  it("reads link.yml when first asked, keeps it, and reads a file that failed again", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "roadtoll-links-")), "link.yml");
    const links = linksFromFile(path);
    // Not there yet: nothing was read when the provider was made, and asking fails.
    await expect(links()).rejects.toThrow();
    await writeFile(path, "Via_Sul: https://example.test/sul.csv\n");
    expect(await links()).toEqual({ Via_Sul: "https://example.test/sul.csv" });
    await writeFile(path, "Other: https://example.test/other.csv\n");
    // Kept: the first good read stands.
    expect(Object.keys(await links())).toEqual(["Via_Sul"]);
  });
});
