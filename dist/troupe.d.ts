// The bundle's types are the sources' (see build/bundle.ts).
export * from "../troupe.ts";
