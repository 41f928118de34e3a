export declare function loopbackHosts(port: number): string[];
export declare function refusal(
  headers: (name: string) => string | undefined,
  port: number,
  options?: { anyPort?: boolean },
): { status: 403 | 421; code: string; message: string } | undefined;
