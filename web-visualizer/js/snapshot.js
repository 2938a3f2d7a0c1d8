// Readings of a session snapshot. Each member that is up carries `replica`, the core's
// status snapshot (the fields of a node's /status, in snake_case); the cluster's
// release, features, upgrade and standbys are what the primary's says.

/** The primary's status snapshot, or null without a primary. */
export function primaryOf(snap) {
  return snap.members.find((member) => member.id === snap.primary)?.replica ?? null;
}

/** Feature flags as the primary knows them; without one, as any member that is up lists them. */
export function featuresOf(snap) {
  return (primaryOf(snap) ?? snap.members.find((member) => member.replica)?.replica)?.features ?? [];
}

/** Every standby, with its health as the primary tracks it (null where no primary does). */
export function standbysOf(snap) {
  const tracked = primaryOf(snap)?.standbys ?? [];
  return snap.members.filter((member) => member.role === "standby").map((member) => {
    const health = tracked.find((standby) => standby.member === member.id);
    return { member: member.id, healthy: health?.healthy ?? null, lag_ops: health?.lag_ops ?? null, promotable: health?.promotable ?? null };
  });
}
