// Actors by id, and search by any of their names, case- and accent-insensitively.

import { collect } from "./api.js";

/** The folded form of a name, as the service folds it: no case, no accents, single spaces. */
export function fold(text) {
  return String(text || "")
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .join(" ");
}

export async function loadActors() {
  const actors = await collect("/v1/actors");
  return new Map(actors.map((a) => [a.id, a]));
}

/** True if the folded query occurs in the actor's id, name or an alias. */
export function matches(actor, query) {
  const needle = fold(query);
  if (!needle) return true;
  const names = [actor.id, actor.name, ...(actor.aliases || [])];
  return names.some((name) => fold(name).includes(needle));
}

export function actorName(actors, id) {
  return actors.get(id)?.name || id;
}
