// Archived releases in the browser: the real code of past releases (releases/X.Y.Z/,
// each a core compiled to WebAssembly) run next to the current core. Each member of an
// archived release gets a WebAssembly instance of its own of that release's module and
// is driven through the member ABI (docs/member-abi.md); the simulator in the viewstamp
// module calls this object as its ArchiveHost. No DOM here: Node's tests use it too.

/** The member ABI version this host speaks. */
const MEMBER_ABI_VERSION = 1;

/** An archived module's reply buffer: a little-endian u32 total length (itself included), then the body. */
const REPLY_PREFIX_BYTES = 4;

function unsigned(value) {
  return value >>> 0;
}

/** One instance of an archived module, holding one member. */
class ArchivedInstance {
  constructor(release, module) {
    this.release = release;
    this.module = module;
    this.instance = new WebAssembly.Instance(module, importsFor(module, release));
    this.exports = this.instance.exports;
    const version = this.exports.member_abi_version?.();
    if (version !== MEMBER_ABI_VERSION) {
      throw new Error(`release ${release}'s module speaks member ABI ${version ?? "none"}, not ${MEMBER_ABI_VERSION}`);
    }
    this.handle = 0; // the member's handle inside the module
  }

  /** Copy `bytes` into a buffer from the module's `alloc`, which the next call frees. */
  write(bytes) {
    const at = unsigned(this.exports.alloc(bytes.length));
    new Uint8Array(this.exports.memory.buffer, at, bytes.length).set(bytes);
    return at;
  }

  /** A reply buffer's body, copied out; the buffer is freed. */
  read(at) {
    const start = unsigned(at);
    const memory = this.exports.memory.buffer;
    if (start + REPLY_PREFIX_BYTES > memory.byteLength) {
      throw new Error(`release ${this.release}'s module answered a reply buffer outside its memory`);
    }
    const total = new DataView(memory).getUint32(start, true);
    if (total < REPLY_PREFIX_BYTES || start + total > memory.byteLength) {
      throw new Error(`release ${this.release}'s module announced a reply of ${total} bytes`);
    }
    const body = new Uint8Array(memory, start + REPLY_PREFIX_BYTES, total - REPLY_PREFIX_BYTES).slice();
    this.exports.dealloc(start, total);
    return body;
  }

  create(config) {
    const reply = this.read(this.exports.member_create(this.write(config), config.length));
    const created = decodeCreateReply(reply);
    if (created.refused) {
      throw new Error(`release ${this.release} refused to create the member (CreateReply ${hex(reply)})`);
    }
    this.handle = created.handle;
  }

  input(bytes) {
    return this.read(this.exports.member_input(this.handle, this.write(bytes), bytes.length));
  }

  /** A new instance of the same module with this one's memory: the same member, independent from here on. */
  duplicate() {
    const copy = new ArchivedInstance(this.release, this.module);
    const source = this.exports.memory;
    const target = copy.exports.memory;
    const missing = source.buffer.byteLength - target.buffer.byteLength;
    if (missing > 0) target.grow(Math.ceil(missing / 65536));
    if (target.buffer.byteLength !== source.buffer.byteLength) {
      throw new Error(`a copy of ${source.buffer.byteLength} bytes of memory has ${target.buffer.byteLength}`);
    }
    new Uint8Array(target.buffer).set(new Uint8Array(source.buffer));
    copy.handle = this.handle;
    return copy;
  }
}

/**
 * What a module imports. 1.3.0's imports nothing; from 1.4.0 on a module imports
 * `viewstamp_archive::call`/`take` for its own replay export, which a member never
 * calls: they are answered with an error, never with another archive.
 */
function importsFor(module, release) {
  const imports = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (from !== "viewstamp_archive" || kind !== "function") {
      throw new Error(`release ${release}'s module imports ${from}.${name} (${kind}), which no member may`);
    }
    imports[from] ??= {};
    imports[from][name] = () => {
      throw new Error(`release ${release}'s member called ${from}.${name}: archived members have no archive`);
    };
  }
  return imports;
}

/** `CreateReply`: variant 0 `Created { handle: u32 }` (a LEB128 varint), 1 `Refused(..)`. */
function decodeCreateReply(bytes) {
  if (bytes[0] !== 0) return { refused: true };
  let handle = 0;
  for (let index = 1, shift = 0; index < bytes.length && shift < 35; index += 1, shift += 7) {
    handle += (bytes[index] & 0x7f) * 2 ** shift;
    if ((bytes[index] & 0x80) === 0) return { refused: false, handle };
  }
  return { refused: true };
}

function hex(bytes) {
  return [...bytes.slice(0, 32)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The ArchiveHost the viewstamp module's `Simulation.from*` take. */
export class BrowserArchive {
  /** `modules`: compiled modules by release (`"1.3.0"`), with their sha256 where known. */
  constructor(modules) {
    this.modules = new Map(modules.map(({ release, module }) => [release, module]));
    this.sha256 = new Map(modules.map(({ release, sha256 }) => [release, sha256 ?? null]));
    this.members = new Map();
    this.lastHandle = 0;
  }

  releases() {
    return [...this.modules.keys()];
  }

  /** How many members it holds (each an instance): a leak shows here. */
  get memberCount() {
    return this.members.size;
  }

  add(instance) {
    this.lastHandle += 1;
    this.members.set(this.lastHandle, instance);
    return this.lastHandle;
  }

  member(handle) {
    const member = this.members.get(handle);
    if (!member) throw new Error(`the archive holds no member ${handle}`);
    return member;
  }

  create(release, config) {
    const module = this.modules.get(release);
    if (!module) throw new Error(`the archive holds no release ${release}`);
    const instance = new ArchivedInstance(release, module);
    instance.create(config);
    return this.add(instance);
  }

  input(handle, bytes) {
    return this.member(handle).input(bytes);
  }

  duplicate(handle) {
    return this.add(this.member(handle).duplicate());
  }

  forget(handle) {
    this.members.delete(handle);
  }
}

async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) return null; // not a secure context: nothing to check with
  const digest = await globalThis.crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * An archive from `{ release, bytes, sha256 }` entries (a module's bytes and the
 * checksum releases/X.Y.Z/SHA256SUMS gives it). A module whose bytes do not match
 * its checksum is refused: it is not the release it claims to be.
 */
export async function archiveFromBytes(entries) {
  const modules = [];
  for (const { release, bytes, sha256 } of entries) {
    const actual = await sha256Hex(bytes);
    if (sha256 && actual !== null && actual !== sha256) {
      throw new Error(`release ${release}'s module has sha256 ${actual}, not ${sha256}: it is not that release`);
    }
    modules.push({ release, module: await WebAssembly.compile(bytes), sha256: actual ?? sha256 });
  }
  return new BrowserArchive(modules);
}

/**
 * The archive scripts/build-wasm.sh copies next to the package (`pkg/releases/`, with
 * an `index.json` of `{ release, file, sha256 }`), or null when there is none.
 */
export async function loadArchive(base = new URL("../pkg/releases/", import.meta.url)) {
  const index = await fetch(new URL("index.json", base));
  if (!index.ok) return null;
  const listed = await index.json();
  const entries = [];
  for (const { release, file, sha256 } of listed) {
    const response = await fetch(new URL(file, base));
    if (!response.ok) throw new Error(`release ${release}'s module ${file}: HTTP ${response.status}`);
    entries.push({ release, sha256, bytes: new Uint8Array(await response.arrayBuffer()) });
  }
  return archiveFromBytes(entries);
}
