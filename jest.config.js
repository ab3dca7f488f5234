/**
 * Jest runs the TypeScript tests as ES modules through ts-jest (node --experimental-vm-modules, see
 * package.json "test"). Imports are written with .js extensions as Node ESM requires; the mapper
 * points them back at the .ts sources.
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: "<rootDir>/test/environment.cjs",
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: { "^.+\\.ts$": ["ts-jest", { useESM: true, tsconfig: "tsconfig.json" }] },
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  testTimeout: 60000,
};
