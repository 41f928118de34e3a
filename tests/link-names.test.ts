import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseLinks } from "../src/adapters/links.js";
import { runCli } from "../src/cli/run.js";
import { resolveLink } from "../src/pipeline/ingest-link.js";
import { captureCliIo, useCliSandbox } from "./support/cli-io.js";

/**
 * What a link is called decides whose figures it replaces: two links with one name in one run are bad usage, and a
 * --link whose URL link.yml lists (however it is spelt) takes link.yml's name, so the same source is not counted
 * under a second name.
 */

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLES = join(ROOT, "samples");
const FILE = "amostra_via_norte.csv";

const sandbox = useCliSandbox(ROOT, { serve: SAMPLES });
const { roadtoll, pipeline } = sandbox;

const sources = async () => {
  const { code, stdout } = await roadtoll("results", "--format", "json", "--include-samples");
  expect(code).toBe(0);
  return new Set((JSON.parse(stdout) as Array<{ source: string }>).map((row) => row.source));
};

describe("link names in one run", () => {
  it("refuses two links with one name as bad usage (exit 2), before anything runs", async () => {
    const both = await pipeline(
      "--link",
      `Same=${sandbox.baseUrl}/${FILE}`,
      "--link",
      `Same=${sandbox.baseUrl}/amostra_via_sul_bom.csv`,
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/two links are named "Same" in one run/);
    // Two unnamed links whose files have one name are refused the same way.
    const unnamed = await pipeline(
      "--link",
      `${sandbox.baseUrl}/${FILE}`,
      "--link",
      `${sandbox.baseUrl}/x/${FILE}`,
    );
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toMatch(/two links are named "amostra_via_norte" in one run/);
    // Nothing ran: not even the database was made.
    const results = await roadtoll("results");
    expect(results.code).toBe(1);
    expect(results.stderr).toMatch(/SchemaError: (no database in|Postgres at .* has no roadtoll schema)/);
  });

  it("gives a --link whose URL link.yml lists, spelt differently, link.yml's name", async () => {
    const linksFile = join(sandbox.directory, "link.yml");
    await writeFile(linksFile, `Listed: "${sandbox.baseUrl}/${FILE}"\n`);
    // The same URL with its scheme in capitals: link.yml's link all the same.
    const url = `${sandbox.baseUrl.replace("http://", "HTTP://")}/${FILE}`;
    const { out, io } = captureCliIo(ROOT);
    const code = await runCli(["--link", url, "--data-dir", sandbox.dataDir, ...sandbox.databaseArgs()], {
      ...io,
      env: { LINKS_FILE: linksFile },
    });
    expect(code, out.stderr).toBe(0);
    expect(await sources()).toEqual(new Set(["Listed"]));
  });
});

describe("resolveLink", () => {
  it("names a URL by link.yml however it is spelt, the first name of a URL listed twice, at any size (one index per link.yml, not a scan per link)", () => {
    const links = parseLinks(
      [
        ...Array.from(
          { length: 100_000 },
          (_, index) => `Source_${index}: https://files.example/${index}.csv`,
        ),
        "Twice: https://files.example/7.csv",
      ].join("\n"),
      "link.yml",
    );
    const refs = Array.from({ length: 1000 }, (_, index) => ({
      url: `HTTPS://FILES.example:443/${index * 97}.csv`,
    }));
    expect(refs.map((ref) => resolveLink(ref, links).source)).toEqual(
      Array.from({ length: 1000 }, (_, index) => `Source_${index * 97}`),
    );
    expect(resolveLink({ url: "https://files.example/7.csv" }, links).source).toBe("Source_7");
    expect(resolveLink({ url: "https://files.example/7.csv", source: "Mine" }, links).source).toBe("Mine");
    expect(resolveLink({ url: "https://elsewhere.example/a%20b.csv" }, links).source).toBe("a_b");
  });
});
