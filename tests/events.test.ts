import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadLinks } from "../src/adapters/links.js";
import {
  deathsEventSchema,
  executionOf,
  ingestEventSchema,
  linkSchema,
  parseIngestEvent,
  publishCuratedEventSchema,
} from "../src/contracts/events.js";
import { listLinksEventSchema } from "../src/handlers/list-links-handler.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const read = async (name: string): Promise<unknown> =>
  JSON.parse(await readFile(`${ROOT}events/${name}`, "utf8"));

describe("events/ examples", () => {
  it.each(["ingest.json", "ingest-url.json", "ingest-envelope.json", "ingest-object.json"])(
    "%s is a valid ingest event",
    async (name) => {
      expect(ingestEventSchema.safeParse(await read(name)).success).toBe(true);
    },
  );

  it("ingest-envelope.json is what the state machine sends: the link and the execution", async () => {
    const event = await read("ingest-envelope.json");
    expect(parseIngestEvent(event)).toEqual({
      link: { source: "Via_Costeira" },
      execution: expect.stringMatching(/^arn:aws:states:[^:]+:\d{12}:execution:[^:]+:[^:]+$/),
    });
    expect(executionOf(event)).toBe(executionOf(await read("deaths.json")));
    expect(executionOf(await read("ingest.json"))).toBeUndefined();
  });

  it("deaths.json is a valid deaths event and names an object the ingest step would write", async () => {
    const event = deathsEventSchema.parse(await read("deaths.json"));
    expect(event.key).toBe(`clean/${event.source}/${event.runId}.csv`);
  });

  it("deaths-publish-curated.json is what PublishCurated sends the deaths function, with the execution to log", async () => {
    const event = await read("deaths-publish-curated.json");
    expect(publishCuratedEventSchema.safeParse(event).success).toBe(true);
    // The same execution as the deaths event's: one correlation id across a run's invocations.
    expect(executionOf(event)).toBe(executionOf(await read("deaths.json")));
    expect(deathsEventSchema.safeParse(event).success).toBe(false);
  });

  it.each(["pipeline.json", "pipeline-single.json"])(
    "%s only uses links that link.yml defines",
    async (name) => {
      const links = await loadLinks(`${ROOT}link.yml`);
      const input = (await read(name)) as { links?: unknown[] };
      const items = input.links ?? [input];
      expect(items.length).toBeGreaterThan(0);
      for (const item of items) {
        const parsed = linkSchema.parse(item);
        if (!("url" in parsed && parsed.url)) expect(Object.keys(links)).toContain(parsed.source);
      }
    },
  );

  it("pipeline-all.json is the schedule's input, and what the ListLinks task is then given is valid", async () => {
    const input = (await read("pipeline-all.json")) as { all: unknown };
    expect(input).toEqual({ all: true });
    // The ASL hands the function {"listLinks.$": "$.all"}.
    expect(listLinksEventSchema.safeParse({ listLinks: input.all }).success).toBe(true);
    expect(listLinksEventSchema.safeParse({ listLinks: "yes" }).success).toBe(false);
  });

  it("link.yml has the five ANTT links", async () => {
    const links = await loadLinks(`${ROOT}link.yml`);
    expect(Object.keys(links)).toEqual([
      "Via_Araucaria",
      "Via_Bahia",
      "Via_Brasil",
      "Via_Costeira",
      "Via_Viasul",
    ]);
    for (const url of Object.values(links))
      expect(url).toMatch(/^https:\/\/dados\.antt\.gov\.br\/dataset\/.+\.csv$/);
  });
});
