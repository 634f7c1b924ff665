/** This program's version, as in package.json (a test keeps the two equal): manifests and reports record it. */
export const PROGRAM_VERSION = '0.1.0';
