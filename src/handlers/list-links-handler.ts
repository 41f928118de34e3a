import * as z from "zod";
import type { LinksProvider } from "../adapters/links.js";
import { parseEvent } from "../contracts/events.js";
import { RoadtollError } from "../errors.js";

/** What the state machine sends for `{"all": true}`: list every configured link. */
export const listLinksEventSchema = z.strictObject({ listLinks: z.literal(true) });

export interface LinkList {
  links: Array<{ source: string }>;
}

/**
 * The configured links, by name, in a stable order: the input the Map needs to run every source (the schedule's
 * input is `{"all": true}`). Names only: each link's URL is read again by the ingest step, so a token in a link
 * never travels through the state machine.
 */
export function createListLinksHandler(links: LinksProvider): (event: unknown) => Promise<LinkList> {
  return async (event) => {
    parseEvent(listLinksEventSchema, event, "list-links");
    const names = Object.keys(await links()).sort();
    // Running nothing and calling it a success would hide an empty or emptied links file.
    if (names.length === 0) throw new RoadtollError("ConfigError", "no links are configured: nothing to run");
    return { links: names.map((source) => ({ source })) };
  };
}
