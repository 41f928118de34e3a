import { describe, expect, it } from "vitest";
import { redactUrl, redactUrls, redactUrlsInText } from "./redact.js";

describe("redactUrl", () => {
  it.each([
    ["https://user:s3cret@host.example/a.csv", "https://***@host.example/a.csv"],
    ["https://host.example/a.csv?token=s3cret&x=1", "https://host.example/a.csv?token=***&x=***"],
    ["https://host.example/a.csv?token=a&token=b#frag", "https://host.example/a.csv?token=***"],
    ["http://127.0.0.1:8080/VIA_SUL.csv", "http://127.0.0.1:8080/VIA_SUL.csv"],
    ["https://h/a.csv;jsessionid=S3CRET?x=1#t=S3CRET", "https://h/a.csv;jsessionid=***?x=***"],
    ["https://h/d;token=S3CRET;S3CRET/a.csv", "https://h/d;token=***;***/a.csv"],
  ])("shows %s as %s", (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it("never echoes something that is not a URL", () => {
    expect(redactUrl("not a url s3cret")).toBe("(not a valid URL)");
  });
});

describe("redactUrls", () => {
  it("redacts every URL inside an event, leaving other values alone", () => {
    const event = {
      links: [{ url: "https://u:p@h.example/a.csv?sig=s3cret", source: "A" }, { source: "https://x" }],
      count: 2,
      note: "see https in text",
      message: "https://h.example/a.csv?sig=***: server answered HTTP 404",
    };
    expect(redactUrls(event)).toEqual({
      links: [{ url: "https://***@h.example/a.csv?sig=***", source: "A" }, { source: "https://x/" }],
      count: 2,
      note: "see https in text",
      message: "https://h.example/a.csv?sig=***: server answered HTTP 404",
    });
    expect(JSON.stringify(redactUrls(event))).not.toContain("s3cret");
  });
});

describe("redactUrlsInText", () => {
  it.each([
    [
      "https://h.example/a.csv?sig=s3cret: server answered HTTP 404",
      "https://h.example/a.csv?sig=***: server answered HTTP 404",
    ],
    [
      "cannot connect to postgres://postgres:s3cret@db.example:5432/roadtoll.",
      "cannot connect to postgres://***@db.example:5432/roadtoll.",
    ],
    ['fetch("https://u:s3cret@h.example/x") failed', 'fetch("https://***@h.example/x") failed'],
    ["(see https://h.example/a.csv?token=s3cret)", "(see https://h.example/a.csv?token=***)"],
    ["no link here, only https in text", "no link here, only https in text"],
    ["http://u:s3cret@[::1/x", "(not a valid URL)"],
  ])("shows %j as %j", (text, shown) => {
    expect(redactUrlsInText(text)).toBe(shown);
  });
});
