/**
 * 1 GiB: 200 times the largest published ANTT file (4 MB), and about half a minute of ingest at the measured
 * speed, so a real source never meets it while an endless or hostile body is cut long before the Lambda's
 * 15 minutes and S3 costs add up. A module without imports: `roadtoll --help`, which prints it, loads no more.
 */
export const DEFAULT_DOWNLOAD_MAX_BYTES = 1024 ** 3;
