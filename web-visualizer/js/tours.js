// Guided tours: a header, then steps of scenario commands with a few words on what
// to look at. Each step's commands run when the person presses Next, so the whole
// tour exports and replays like any other run.

export const TOURS = {
  upgrade: {
    title: "Rolling upgrade 1.0.0 → 1.4.0",
    header: "cluster replicas=3 standbys=1 seed=7 binary=1.0.0",
    steps: [
      {
        text: "Three replicas and one standby, every binary 1.0.0. On 1.0.0 the standby feature is off: member 3 receives no log and shows no lag. Write a key first.",
        commands: ["put a 1", "until commit[0] >= 1 within 300"],
      },
      {
        text: "Restart member 0, the primary, with a 1.4.0 binary. It comes back running the cluster's release 1.0.0 (the yellow “run” badge would show it behind if it were); the others elect a new primary meanwhile.",
        commands: ["restart 0 binary=1.4.0", "until status[0] = normal within 1000"],
      },
      {
        text: "Member 1 next: one member at a time, so a quorum stays up.",
        commands: ["restart 1 binary=1.4.0", "until status[1] = normal within 1000"],
      },
      {
        text: "Member 2. Every active replica now advertises 1.4.0, but the standby still runs 1.0.0, so the cluster cannot move yet.",
        commands: ["restart 2 binary=1.4.0", "until status[2] = normal within 1000"],
      },
      {
        text: "Finally the standby. With auto upgrade on, the primary proposes the newest release every member advertises; it commits through the log. Watch the Version negotiation panel: cluster release and feature flags.",
        commands: ["restart 3 binary=1.4.0", "until cluster-release = 1.4.0 within 3000"],
      },
      {
        text: "On 1.1.0 and later the standby receives the log. Three clients write at once; the standby's lag (Standbys chart) rises and falls back to 0. From 1.3.0 it may also answer reads itself, and from 1.4.0 the primary serves reads without a log entry: watch the confirm_primacy round go out to the backups.",
        commands: ["until lag[3] = 0 within 3000", "put b 2 client=2", "put c 3 client=3", "put d 4 client=4", "tick 20", "until lag[3] = 0 within 3000", "get a at=3", "until reply[1] != pending within 1000"],
      },
    ],
  },
  promote: {
    title: "Promoting a standby after losing a replica",
    header: "cluster replicas=3 standbys=1 seed=11",
    steps: [
      {
        text: "A 1.3.0 cluster: three replicas and a standby that follows the log. Write something and let the standby catch up (lag 0, healthy, promotable).",
        commands: ["put a 1", "until reply[1] = ok within 1000", "until lag[3] = 0 within 3000"],
      },
      {
        text: "Member 2 crashes and does not come back (a lost machine). Two of three replicas still form a quorum, but one more failure would stop the cluster.",
        commands: ["crash 2", "tick 100"],
      },
      {
        text: "Is the standby promotable? The primary tracks its health and lag.",
        commands: ["until promotable[3] = yes within 3000"],
      },
      {
        text: "Promote standby 3 in place of member 2: a reconfiguration committed through the log. Member 3 becomes an active replica.",
        commands: ["promote 3 replace=2", "until role[3] = active within 3000"],
      },
      {
        text: "Three active replicas again. Writes go on.",
        commands: ["put b 2", "until reply[1] = ok within 3000"],
      },
    ],
  },
  viewchange: {
    title: "A view change",
    header: "cluster replicas=5 seed=3",
    steps: [
      {
        text: "Five replicas in view 0, member 0 primary. A client write goes through prepare, prepare_ok and commit.",
        commands: ["put x 1", "until reply[1] = ok within 1000"],
      },
      {
        text: "The primary crashes. The backups hear no heartbeat…",
        commands: ["crash 0", "tick 150"],
      },
      {
        text: "…their timers fire and they exchange start_view_change, then do_view_change to the next primary (orange and red dots). Press Play to watch, or Next to finish it.",
        commands: ["until view >= 1 within 3000"],
      },
      {
        text: "View 1: member 1 leads. The old primary restarts, recovers, and follows the new view.",
        commands: ["restart 0", "until status[0] = normal within 3000", "put y 2", "until reply[1] = ok within 3000"],
      },
    ],
  },
};

/** Walks one tour on a controller; `render` shows its current step. */
export class TourRunner {
  constructor(controller, render) {
    this.controller = controller;
    this.render = render;
    this.tour = null;
    this.index = 0;
  }

  start(name) {
    this.tour = TOURS[name];
    if (!this.tour) throw new Error(`no tour named ${name}`);
    this.index = 0;
    this.controller.loadScript(`${this.tour.header}\n`);
    this.render(this.current());
  }

  current() {
    if (!this.tour) return null;
    const steps = this.tour.steps;
    const done = this.index >= steps.length;
    return {
      title: this.tour.title,
      progress: done ? "done" : `step ${this.index + 1} of ${steps.length}`,
      text: done ? "That is the tour. Everything it ran is in the Scenario panel's export; the scrubber travels back over it." : steps[this.index].text,
      commands: done ? [] : steps[this.index].commands,
      done,
    };
  }

  /** Run the current step's commands; outcomes of those that did not hold. */
  next() {
    if (!this.tour || this.index >= this.tour.steps.length) return [];
    const problems = [];
    for (const command of this.tour.steps[this.index].commands) {
      const outcome = this.controller.apply(command);
      if (!outcome.ran) problems.push(`${command}: ${outcome.error}`);
      else if (outcome.held === false) problems.push(outcome.failures.join("; ") || `${command} did not hold`);
    }
    this.index += 1;
    this.render(this.current());
    return problems;
  }

  close() {
    this.tour = null;
    this.render(null);
  }
}
