#!/usr/bin/python3
# tests/sim_ref.py: an independent reference model of the memory-hierarchy
# simulator, written from sim/README.md alone ("The model", "Config files",
# "Replacement, exactly", "Access traces", "Output"), never from sim/*.c, so
# that tests/test_sim_ref.sh can compare the two counter by counter. Plain
# Python, stdlib only, built for being read against the README, not speed.
#
#   sim_ref.py --config FILE [--page-size 4K|2M|1G] TRACE
#              [--csv OUT_CORES.csv] [--lines-csv OUT_LINES.csv]
#   sim_ref.py gen --seed N --cores C --accesses K [--line L] [--page P]
#   sim_ref.py compare WANT.csv GOT.csv
#
# Hidden options: `--set KEY=VALUE` (after the config file; repeatable) and
# `--break RULE`, which deliberately gets one rule wrong so the differential
# test can prove it notices (see BREAKABLE_RULES).
import argparse
import os
import random
import sys

CORE_COLUMNS = [
    "accesses", "reads", "writes", "l1d_accesses", "l1d_misses", "l2_misses",
    "llc_accesses", "llc_misses", "dtlb_accesses", "dtlb_misses",
    "stlb_misses", "walks", "transfers", "clean_forwards", "cold",
    "true_sharing", "false_sharing", "alloc_reuse", "replacement",
    "invalidations", "writebacks", "mem_writebacks", "l1d_pf_issued",
    "l1d_pf_useful", "l1d_pf_useless", "l2_pf_issued", "l2_pf_useful",
    "l2_pf_useless",
]
LINE_COLUMNS = ["transfers", "clean_forwards", "true_sharing",
                "false_sharing", "alloc_reuse", "invalidations"]
MISS_CLASSES = ["cold", "true_sharing", "false_sharing", "alloc_reuse",
                "replacement"]
BREAKABLE_RULES = {
    "cold-false": "a first copy is cold even when another core wrote the line",
    "touched-not-written": "bytes other cores only read count as written by others",
    "clean-as-transfer": "clean forwards are counted as transfers",
}
PAGE_SHIFTS = {"4K": 12, "2M": 21, "1G": 30}
PREFETCH_REGION = 4096  # prefetchers never cross a 4 KiB boundary
PRESET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim",
                      "presets", "skylake.conf")


class SimError(Exception):
    pass


# ---------------------------------------------------------------- config

# The README's stated defaults beyond the preset's geometry; the preset file is
# read over these at run time, then the user's file over that. The prefetcher
# numbers only matter if the preset turns a prefetcher on without them.
BUILTIN_DEFAULTS = {
    "l1d.prefetch": "off", "l1d.prefetch.degree": "1",
    "l2.prefetch": "off", "l2.prefetch.streams": "32",
    "l2.prefetch.degree": "2", "l2.prefetch.distance": "20",
    "phys": "on", "phys.seed": "1", "phys.bits": "40",
}
CONFIG_KEYS = {"name", "cores", "line", "page", "phys", "phys.seed", "phys.bits",
               "l1d.prefetch", "l1d.prefetch.degree", "l2.prefetch",
               "l2.prefetch.streams", "l2.prefetch.degree", "l2.prefetch.distance"}
for level in ("l1d", "l2", "llc"):
    CONFIG_KEYS |= {level + ".size", level + ".ways", level + ".policy"}
for tlb in ("dtlb", "stlb"):
    for size in ("4k", "2m", "1g"):
        CONFIG_KEYS |= {"%s.%s.entries" % (tlb, size), "%s.%s.ways" % (tlb, size)}


def parse_number(text):
    """A count or size: C notation, optionally with K, M or G (powers of 1024)."""
    text = text.strip()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    if scale != 1:
        text = text[:-1]
    return int(text, 0) * scale


def read_config_file(path, settings):
    with open(path) as f:
        for number, raw in enumerate(f, 1):
            text = raw.split("#", 1)[0].strip()
            if not text:
                continue
            key, eq, value = text.partition("=")
            key, value = key.strip(), value.strip()
            if not eq or not key:
                raise SimError("%s:%d: expected 'key = value'" % (path, number))
            if key not in CONFIG_KEYS:
                raise SimError("%s:%d: unknown key '%s'" % (path, number, key))
            settings[key] = value


class Config:
    """The settings of one run, with the checks the README states."""

    def __init__(self, settings):
        s = settings
        self.cores = parse_number(s["cores"])
        self.line = parse_number(s["line"])
        self.page = s["page"].upper()
        self.levels = {}
        for level in ("l1d", "l2", "llc"):
            size = parse_number(s[level + ".size"])
            ways = parse_number(s[level + ".ways"])
            policy = s[level + ".policy"]
            if policy not in ("lru", "plru"):
                raise SimError("%s.policy: '%s' is not lru or plru" % (level, policy))
            sets = size // (ways * self.line) if ways else 0
            if (not 1 <= ways <= 64 or sets < 1 or sets * ways * self.line != size
                    or not is_power_of_two(sets)
                    or (policy == "plru" and not is_power_of_two(ways))):
                raise SimError("%s.size: bad geometry" % level)
            self.levels[level] = (size, ways, policy)
        if not (self.levels["l1d"][0] <= self.levels["l2"][0] <= self.levels["llc"][0]):
            raise SimError("l2.size: sizes must grow from L1D to LLC")
        self.l1d_prefetch = s["l1d.prefetch"]
        self.l1d_prefetch_degree = parse_number(s["l1d.prefetch.degree"])
        self.l2_prefetch = s["l2.prefetch"]
        self.l2_streams = parse_number(s["l2.prefetch.streams"])
        self.l2_degree = parse_number(s["l2.prefetch.degree"])
        self.l2_distance = parse_number(s["l2.prefetch.distance"])
        self.phys = s["phys"]
        self.phys_seed = parse_number(s["phys.seed"])
        self.phys_bits = parse_number(s["phys.bits"])
        if self.page not in PAGE_SHIFTS:
            raise SimError("page: '%s' is not 4K, 2M or 1G" % self.page)
        key = self.page.lower()
        self.tlb = {}
        for tlb in ("dtlb", "stlb"):
            self.tlb[tlb] = (parse_number(s["%s.%s.entries" % (tlb, key)]),
                             parse_number(s["%s.%s.ways" % (tlb, key)]))
        if not 1 <= self.cores <= 32 or self.line not in (16, 32, 64):
            raise SimError("cores/line out of range")
        if self.l1d_prefetch not in ("off", "next-line") or self.l2_prefetch not in ("off", "stream"):
            raise SimError("bad prefetcher")
        if self.phys not in ("off", "on") or not 32 <= self.phys_bits <= 52:
            raise SimError("bad phys settings")


def is_power_of_two(n):
    return n > 0 and n & (n - 1) == 0


def load_config(path, page_size, overrides):
    settings = dict(BUILTIN_DEFAULTS)
    read_config_file(PRESET, settings)
    if path:
        read_config_file(path, settings)
    for item in overrides:
        key, _, value = item.partition("=")
        settings[key.strip()] = value.strip()
    if page_size:
        settings["page"] = page_size
    return Config(settings)


# ----------------------------------------------------------- replacement

class LruSet:
    """One set under true LRU: its valid tags, most recent first."""

    def __init__(self, ways):
        self.ways = ways
        self.order = []

    def hit(self, tag):
        """A lookup: a hit makes the tag most recent."""
        if tag not in self.order:
            return False
        self.order.remove(tag)
        self.order.insert(0, tag)
        return True

    def fill(self, tag):
        """Install an absent tag most recent; return the victim or None."""
        victim = self.order.pop() if len(self.order) == self.ways else None
        self.order.insert(0, tag)
        return victim

    def remove(self, tag):
        self.order.remove(tag)


class PlruSet:
    """One set under tree-PLRU, exactly as "Replacement, exactly" says: W - 1
    bits in nodes 1..W-1 (children 2i, 2i+1), 0 = points left."""

    def __init__(self, ways):
        self.way_tags = [None] * ways
        self.bits = [0] * ways  # index 0 unused
        self.depth = ways.bit_length() - 1

    def touch(self, way):
        """Point every node on the way's path away from it."""
        node = 1
        for d in range(self.depth):
            goes_right = (way >> (self.depth - 1 - d)) & 1
            self.bits[node] = 0 if goes_right else 1
            node = 2 * node + goes_right

    def hit(self, tag):
        if tag not in self.way_tags:
            return False
        self.touch(self.way_tags.index(tag))
        return True

    def fill(self, tag):
        if None in self.way_tags:
            way, victim = self.way_tags.index(None), None  # lowest free way
        else:
            node = 1
            for _ in range(self.depth):
                node = 2 * node + self.bits[node]
            way = node - len(self.way_tags)
            victim = self.way_tags[way]
        self.way_tags[way] = tag
        self.touch(way)
        return victim

    def remove(self, tag):
        """Frees the way; the bits stay as they are."""
        self.way_tags[self.way_tags.index(tag)] = None


class Cache:
    """A set-associative cache of line (or page) numbers; set index = number
    mod sets. `marked` holds prefetched lines not yet used, `dirty` the LLC's
    dirty lines; the simulator keeps both up to date."""

    def __init__(self, entries, ways, policy="lru"):
        set_class = PlruSet if policy == "plru" else LruSet
        self.sets = [set_class(ways) for _ in range(entries // ways)]
        self.present = set()
        self.marked = set()
        self.dirty = set()

    def lookup(self, tag):
        return tag in self.present and self.sets[tag % len(self.sets)].hit(tag)

    def fill(self, tag):
        victim = self.sets[tag % len(self.sets)].fill(tag)
        self.present.add(tag)
        if victim is not None:
            self.present.discard(victim)
        return victim

    def remove(self, tag):
        self.sets[tag % len(self.sets)].remove(tag)
        self.present.discard(tag)


class Tlb:
    """A core's two TLB levels for the run's page size; a level of 0 entries
    is absent and misses every lookup."""

    def __init__(self, config):
        self.levels = []
        for name in ("dtlb", "stlb"):
            entries, ways = config.tlb[name]
            self.levels.append(Cache(entries, ways) if entries else None)

    def access(self, page, counts):
        dtlb, stlb = self.levels
        counts["dtlb_accesses"] += 1
        if dtlb is not None and dtlb.lookup(page):
            return
        counts["dtlb_misses"] += 1
        if stlb is not None and stlb.lookup(page):
            if dtlb is not None:
                dtlb.fill(page)
            return
        counts["stlb_misses"] += 1
        counts["walks"] += 1
        for level in (dtlb, stlb):
            if level is not None:
                level.fill(page)


# ------------------------------------------------------ physical addresses

class PageMapper:
    """Virtual page to physical frame: the n-th distinct page touched gets
    frame perm(n); with phys = off, frame = page."""

    MASK64 = (1 << 64) - 1

    def __init__(self, config):
        self.enabled = config.phys == "on"
        self.shift = PAGE_SHIFTS[config.page]
        self.frame_bits = config.phys_bits - self.shift
        self.seed = config.phys_seed
        self.frames = {}        # virtual page -> frame
        self.pages = {}         # frame -> virtual page

    def perm(self, n):
        k = self.frame_bits
        mask, h = (1 << k) - 1, (k + 1) // 2
        x = ((n + self.seed) & self.MASK64) & mask
        x = ((x * 0x9E3779B97F4A7C15) & self.MASK64) & mask
        x ^= x >> h
        x = ((x * 0xBF58476D1CE4E5B9) & self.MASK64) & mask
        x ^= x >> h
        return x

    def map_page(self, page):
        """The frame of a page, mapping it now if this is its first touch."""
        frame = self.frames.get(page)
        if frame is None:
            if not self.enabled:
                frame = page
            else:
                n = len(self.frames)
                if n >= 1 << self.frame_bits:
                    raise SimError("more than 2^%d pages touched (raise phys.bits)" % self.frame_bits)
                frame = self.perm(n)
            self.frames[page] = frame
            self.pages[frame] = page
        return frame

    def frame_of(self, page):
        """The frame of a page already touched, None if never touched."""
        return self.frames.get(page)

    def virtual(self, paddr):
        offset = paddr & ((1 << self.shift) - 1)
        return (self.pages[paddr >> self.shift] << self.shift) | offset


# ---------------------------------------------------------- classification

class CopyHistory:
    """One core's history with one line, for the miss classes."""

    def __init__(self):
        self.touched = 0              # bytes accessed during the current/last copy
        self.others_live = 0          # bytes others wrote since our last copy ended
        self.others_dead = 0          # ... of those, freed after being written
        self.copies = 0               # copies ever started (demand or prefetch)
        self.current_is_first = False
        self.current_is_demand = False
        self.previous_invalidated = False   # how the copy before the current one ended
        self.last_invalidated = False       # how the most recent copy ended

    def start_copy(self, demand):
        self.current_is_first = self.copies == 0
        self.copies += 1
        self.current_is_demand = demand
        self.previous_invalidated = self.last_invalidated
        self.touched = 0

    def end_copy(self, invalidated):
        self.last_invalidated = invalidated
        self.others_live = self.others_dead = 0

    def miss_class(self, broken):
        if self.touched & self.others_live:
            return "true_sharing"
        if self.touched & self.others_dead:
            return "alloc_reuse"
        if self.current_is_first:
            if (self.others_live | self.others_dead) and broken != "cold-false":
                return "false_sharing"
            return "cold"
        if self.previous_invalidated:
            return "false_sharing"
        return "replacement"


class LineState:
    """The directory entry of one physical line: its holders and their MESI
    state, each core's copy history, the per-line counters."""

    def __init__(self, vline, cores):
        self.vline = vline
        self.holders = {}   # core -> "M" | "E" | "S"
        self.history = [CopyHistory() for _ in range(cores)]
        self.counts = dict.fromkeys(LINE_COLUMNS, 0)

    def owner(self, exclude):
        for core, state in self.holders.items():
            if core != exclude and state in "ME":
                return core, state
        return None, None

    def others(self, exclude):
        return [core for core in self.holders if core != exclude]


# ------------------------------------------------------------ prefetchers

class StreamTracker:
    def __init__(self):
        self.region = None     # None: never used
        self.last = self.stride = self.furthest = 0
        self.used_at = -1


class StreamPrefetcher:
    """The L2 stream (stride) prefetcher's trackers; `train` returns the lines
    to consider fetching for one L2 demand access."""

    def __init__(self, streams, degree, distance, line_size):
        self.trackers = [StreamTracker() for _ in range(streams)]
        self.degree, self.distance = degree, distance
        self.lines_per_region = PREFETCH_REGION // line_size
        self.clock = 0

    def train(self, x):
        region = x // self.lines_per_region
        considered = []
        tracker = next((t for t in self.trackers if t.region == region), None)
        if tracker is None:
            unused = [t for t in self.trackers if t.region is None]
            tracker = unused[0] if unused else min(self.trackers, key=lambda t: t.used_at)
            tracker.region, tracker.stride, tracker.furthest = region, 0, x
        else:
            s = x - tracker.last
            if s != 0 and s != tracker.stride:
                tracker.stride, tracker.furthest = s, x
            elif s != 0:
                stride = s
                start = tracker.furthest if (tracker.furthest - x) * stride > 0 else x
                y = start + stride
                while (len(considered) < self.degree and y // self.lines_per_region == region
                       and abs(y - x) <= self.distance * abs(stride)):
                    considered.append(y)
                    y += stride
                if considered:
                    tracker.furthest = considered[-1]
        tracker.last = x
        self.clock += 1
        tracker.used_at = self.clock
        return considered


class Core:
    def __init__(self, config):
        levels = config.levels
        self.l1d = Cache(levels["l1d"][0] // config.line, levels["l1d"][1], levels["l1d"][2])
        self.l2 = Cache(levels["l2"][0] // config.line, levels["l2"][1], levels["l2"][2])
        self.tlb = Tlb(config)
        self.counts = dict.fromkeys(CORE_COLUMNS, 0)
        self.stream = None
        if config.l2_prefetch == "stream":
            self.stream = StreamPrefetcher(config.l2_streams, config.l2_degree,
                                           config.l2_distance, config.line)


# -------------------------------------------------------------- simulator

class Simulator:
    def __init__(self, config, broken=None):
        self.config = config
        self.broken = broken
        self.line_size = config.line
        self.full_mask = (1 << config.line) - 1
        self.cores = [Core(config) for _ in range(config.cores)]
        size, ways, policy = config.levels["llc"]
        self.llc = Cache(size // config.line, ways, policy)
        self.mapper = PageMapper(config)
        self.directory = {}   # physical line -> LineState

    # -- addresses

    def physical_line(self, vline):
        vaddr = vline * self.line_size
        frame = self.mapper.map_page(vaddr >> self.mapper.shift)
        offset = vaddr & ((1 << self.mapper.shift) - 1)
        return ((frame << self.mapper.shift) | offset) // self.line_size

    def entry(self, pline):
        state = self.directory.get(pline)
        if state is None:
            vline = self.mapper.virtual(pline * self.line_size) // self.line_size
            state = self.directory[pline] = LineState(vline, len(self.cores))
        return state

    # -- the trace's records

    def access(self, core_id, addr, size, is_write):
        core = self.cores[core_id]
        counts = core.counts
        counts["accesses"] += 1
        counts["writes" if is_write else "reads"] += 1
        shift = self.mapper.shift
        for page in range(addr >> shift, ((addr + size - 1) >> shift) + 1):
            self.mapper.map_page(page)      # pages map in address order
            core.tlb.access(page, counts)
        line_size = self.line_size
        end = addr + size
        for vline in range(addr // line_size, (end - 1) // line_size + 1):
            lo = max(addr, vline * line_size) - vline * line_size
            hi = min(end, (vline + 1) * line_size) - vline * line_size
            mask = ((1 << hi) - 1) ^ ((1 << lo) - 1)
            self.line_access(core_id, self.physical_line(vline), mask, is_write)

    def free(self, addr, size):
        """sim_freed: bytes others wrote become dead, for each core that does
        not hold the line now; pages never touched are left alone."""
        line_size, shift = self.line_size, self.mapper.shift
        end = addr + size
        for vline in range(addr // line_size, (end - 1) // line_size + 1):
            vaddr = vline * line_size
            frame = self.mapper.frame_of(vaddr >> shift)
            if frame is None:
                continue
            pline = ((frame << shift) | (vaddr & ((1 << shift) - 1))) // line_size
            state = self.directory.get(pline)
            if state is None:
                continue
            lo = max(addr, vaddr) - vaddr
            hi = min(end, vaddr + line_size) - vaddr
            mask = ((1 << hi) - 1) ^ ((1 << lo) - 1)
            for core_id, history in enumerate(state.history):
                if core_id in state.holders:
                    continue
                history.others_dead |= history.others_live & mask
                history.others_live &= ~mask

    # -- one line of a demand access

    def line_access(self, core_id, pline, mask, is_write):
        core = self.cores[core_id]
        counts = core.counts
        state = self.entry(pline)
        counts["l1d_accesses"] += 1
        l1d_miss = False
        if core.l1d.lookup(pline):
            if pline in core.l1d.marked:
                core.l1d.marked.discard(pline)
                counts["l1d_pf_useful"] += 1
            if is_write:
                self.write_hit(core_id, state, pline)
        else:
            l1d_miss = True
            counts["l1d_misses"] += 1
            if core.l2.lookup(pline):
                if pline in core.l2.marked:
                    core.l2.marked.discard(pline)
                    counts["l2_pf_useful"] += 1
                if is_write:
                    self.write_hit(core_id, state, pline)
            else:
                counts["l2_misses"] += 1
                new_state = self.demand_fetch(core_id, state, pline, is_write)
                self.install_l2(core_id, state, pline, new_state, demand=True)
            self.fill_l1d(core_id, pline)
        state.history[core_id].touched |= mask
        if is_write or self.broken == "touched-not-written":
            for other, history in enumerate(state.history):
                if other != core_id:
                    history.others_live |= mask
                    history.others_dead &= ~mask
        if l1d_miss:
            if self.config.l1d_prefetch == "next-line":
                self.next_line_prefetch(core_id, pline)
            if core.stream is not None:
                self.stream_prefetch(core_id, pline)

    def write_hit(self, core_id, state, pline):
        """A write to a line the core holds: S upgrades (invalidating the other
        sharers, no data moves), E silently becomes M."""
        if state.holders[core_id] == "S":
            for other in state.others(core_id):
                self.invalidate(other, state, pline, core_id)
        state.holders[core_id] = "M"

    def demand_fetch(self, core_id, state, pline, is_write):
        """An L2 demand miss: from an M or E peer, else from the LLC (or memory
        through it). Returns the requester's new MESI state."""
        counts = self.cores[core_id].counts
        owner, owner_state = state.owner(core_id)
        if owner is not None:
            forward = "transfers"
            if owner_state == "E" and self.broken != "clean-as-transfer":
                forward = "clean_forwards"
            counts[forward] += 1
            state.counts[forward] += 1
            if is_write:
                self.invalidate(owner, state, pline, core_id)   # M: the dirty data comes along
                return "M"
            if owner_state == "M":
                self.writeback(owner, pline)
            state.holders[owner] = "S"
            return "S"
        counts["llc_accesses"] += 1
        if not self.llc.lookup(pline):
            counts["llc_misses"] += 1
            self.llc_install(core_id, pline)
        sharers = state.others(core_id)
        if is_write:
            for other in sharers:
                self.invalidate(other, state, pline, core_id)
            return "M"
        return "S" if sharers else "E"

    def prefetch_fetch(self, core_id, state, pline):
        """Fetch a line the core's L2 lacks like an LLC-served read miss, but
        counted in no demand counter; dropped (False) if a peer holds it M/E."""
        if state.owner(core_id)[0] is not None:
            return False
        if not self.llc.lookup(pline):
            self.llc_install(core_id, pline)
        new_state = "S" if state.others(core_id) else "E"
        self.install_l2(core_id, state, pline, new_state, demand=False)
        return True

    # -- fills, evictions, coherence removals

    def install_l2(self, core_id, state, pline, mesi, demand):
        core = self.cores[core_id]
        victim = core.l2.fill(pline)
        if victim is not None:
            self.leave_private(core_id, victim, invalidated=False)
        state.holders[core_id] = mesi
        state.history[core_id].start_copy(demand)

    def fill_l1d(self, core_id, pline):
        """Install in the L1D; its victim stays in the L2."""
        core = self.cores[core_id]
        victim = core.l1d.fill(pline)
        if victim is not None and victim in core.l1d.marked:
            core.l1d.marked.discard(victim)
            core.counts["l1d_pf_useless"] += 1

    def leave_private(self, core_id, pline, invalidated):
        """A line leaves a core's private hierarchy: by L2 eviction (the L1D
        copy goes by inclusion; M is written back) or by invalidation. Either
        ends the copy's lifetime. The caller has removed it from the L2 if it
        was an eviction."""
        core = self.cores[core_id]
        counts = core.counts
        if pline in core.l1d.present:
            core.l1d.remove(pline)
        if pline in core.l1d.marked:
            core.l1d.marked.discard(pline)
            counts["l1d_pf_useless"] += 1
        if pline in core.l2.present:
            core.l2.remove(pline)
        if pline in core.l2.marked:
            core.l2.marked.discard(pline)
            counts["l2_pf_useless"] += 1
        state = self.directory[pline]
        mesi = state.holders.pop(core_id)
        if mesi == "M" and not invalidated:
            self.writeback(core_id, pline)
        self.end_copy(core_id, state, invalidated)

    def invalidate(self, victim_core, state, pline, requester):
        self.cores[requester].counts["invalidations"] += 1
        state.counts["invalidations"] += 1
        self.leave_private(victim_core, pline, invalidated=True)

    def end_copy(self, core_id, state, invalidated):
        history = state.history[core_id]
        if history.current_is_demand:
            self.count_class(core_id, state, history.miss_class(self.broken))
        history.end_copy(invalidated)

    def count_class(self, core_id, state, miss_class):
        self.cores[core_id].counts[miss_class] += 1
        if miss_class in state.counts:
            state.counts[miss_class] += 1

    def writeback(self, core_id, pline):
        """A dirty private line into the LLC: most recent there (installed if
        absent) and dirty."""
        self.cores[core_id].counts["writebacks"] += 1
        if not self.llc.lookup(pline):
            self.llc_install(core_id, pline)
        self.llc.dirty.add(pline)

    def llc_install(self, core_id, pline):
        victim = self.llc.fill(pline)
        if victim is not None and victim in self.llc.dirty:
            self.llc.dirty.discard(victim)
            self.cores[core_id].counts["mem_writebacks"] += 1

    # -- prefetchers

    def next_line_prefetch(self, core_id, x):
        core = self.cores[core_id]
        lines_per_region = PREFETCH_REGION // self.line_size
        for k in range(1, self.config.l1d_prefetch_degree + 1):
            target = x + k
            if target // lines_per_region != x // lines_per_region:
                break
            if target in core.l1d.present:
                continue          # counts towards the degree, not fetched
            if target not in core.l2.present:
                if not self.prefetch_fetch(core_id, self.entry(target), target):
                    continue
            self.fill_l1d(core_id, target)
            core.l1d.marked.add(target)
            core.counts["l1d_pf_issued"] += 1

    def stream_prefetch(self, core_id, x):
        core = self.cores[core_id]
        for target in core.stream.train(x):
            if target in core.l2.present:
                continue
            if self.prefetch_fetch(core_id, self.entry(target), target):
                core.l2.marked.add(target)
                core.counts["l2_pf_issued"] += 1

    # -- output

    def finish(self):
        """Classify the copies still alive as if they ended now (the
        counters are reported once, at the end)."""
        for state in self.directory.values():
            for core_id in state.holders:
                history = state.history[core_id]
                if history.current_is_demand:
                    self.count_class(core_id, state, history.miss_class(self.broken))

    def check_identities(self):
        """The README's identities (sim_is_valid's counter checks): the
        model must satisfy them itself before it judges hlsim."""
        for i, core in enumerate(self.cores):
            c = core.counts
            served = c["llc_accesses"] + c["transfers"] + c["clean_forwards"]
            classes = sum(c[k] for k in MISS_CLASSES)
            if served != c["l2_misses"] or classes != c["l2_misses"]:
                raise SimError("core %d: identities broken (served %d, classes %d, l2_misses %d)"
                               % (i, served, classes, c["l2_misses"]))
            for level in ("l1d", "l2"):
                if c[level + "_pf_useful"] + c[level + "_pf_useless"] > c[level + "_pf_issued"]:
                    raise SimError("core %d: %s prefetches used or wasted exceed issued" % (i, level))

    def core_rows(self):
        rows = [[str(i)] + [str(c.counts[k]) for k in CORE_COLUMNS]
                for i, c in enumerate(self.cores)]
        rows.append(["total"] + [str(sum(c.counts[k] for c in self.cores)) for k in CORE_COLUMNS])
        return rows

    def line_rows(self):
        states = sorted(self.directory.values(), key=lambda s: s.vline)
        return [["0x%x" % (s.vline * self.line_size)] + [str(s.counts[k]) for k in LINE_COLUMNS]
                for s in states if any(s.counts.values())]


# ----------------------------------------------------------------- traces

def read_trace(path, cores):
    """Yields (core, op, addr, size) from a text trace; op is R, W or F."""
    stream = sys.stdin if path == "-" else open(path)
    with stream:
        for number, raw in enumerate(stream, 1):
            fields = raw.split("#", 1)[0].split()
            if not fields:
                continue
            where = "%s:%d" % (path, number)
            if len(fields) != 4:
                raise SimError("%s: expected CORE R|W|F ADDR SIZE" % where)
            core, op = int(fields[0], 0), fields[1].upper()
            if not 0 <= core < cores:
                raise SimError("%s: core %d out of range" % (where, core))
            if op not in ("R", "W", "F"):
                raise SimError("%s: expected R, W or F" % where)
            addr, size = int(fields[2], 0), int(fields[3], 0)
            if not 1 <= size <= 1 << 30:
                raise SimError("%s: bad size" % where)
            yield core, op, addr, size


def write_csv(path, header, rows):
    text = "".join(",".join(row) + "\n" for row in [header] + rows)
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)


def simulate(argv):
    parser = argparse.ArgumentParser(prog="sim_ref.py")
    parser.add_argument("--config")
    parser.add_argument("--page-size", choices=sorted(PAGE_SHIFTS))
    parser.add_argument("--csv")
    parser.add_argument("--lines-csv")
    parser.add_argument("--set", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--break", dest="broken", choices=sorted(BREAKABLE_RULES),
                        help=argparse.SUPPRESS)
    parser.add_argument("trace")
    args = parser.parse_args(argv)
    config = load_config(args.config, args.page_size, args.set)
    sim = Simulator(config, args.broken)
    for core, op, addr, size in read_trace(args.trace, config.cores):
        if op == "F":
            sim.free(addr, size)
        else:
            sim.access(core, addr, size, op == "W")
    sim.finish()
    sim.check_identities()
    write_csv(args.csv, ["core"] + CORE_COLUMNS, sim.core_rows())
    if args.lines_csv:
        write_csv(args.lines_csv, ["line"] + LINE_COLUMNS, sim.line_rows())


# ------------------------------------------------- random traces (`gen`)

def generate(argv):
    """A seeded multi-core trace that stresses coherence and the classes: a
    small region all cores share (straddling a 4 KiB boundary), private
    regions, strided streams for the prefetchers, pages spread for the TLBs,
    frees, unaligned and line-spanning sizes."""
    parser = argparse.ArgumentParser(prog="sim_ref.py gen")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--cores", type=int, required=True)
    parser.add_argument("--accesses", type=int, required=True)
    parser.add_argument("--line", type=int, default=64)
    parser.add_argument("--page", choices=sorted(PAGE_SHIFTS), default="4K")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    line, page = args.line, 1 << PAGE_SHIFTS[args.page]
    shared = 0x10000 - 6 * line                     # 12 lines across a 4 KiB boundary
    private = [0x100000 + c * 0x4000 - 0x600 for c in range(args.cores)]  # 3 KiB each
    spread = 0x40000000 if args.page != "1G" else 0x100000000
    streams = [[private[c] + 0x800, line] for c in range(args.cores)]
    out = ["# sim_ref.py gen --seed %d --cores %d --accesses %d --line %d --page %s"
           % (args.seed, args.cores, args.accesses, line, args.page)]
    core = 0
    for _ in range(args.accesses):
        if rng.random() < 0.3:
            core = rng.randrange(args.cores)        # bursts of one core, then switch
        pick = rng.random()
        op = "W" if rng.random() < 0.4 else "R"
        if pick < 0.40:                             # shared: small fields, some unaligned
            addr = shared + rng.randrange(12 * line)
            if rng.random() < 0.7:
                addr &= ~7
            size = rng.choice([1, 2, 4, 8, 8, 8, 16, 24])
        elif pick < 0.55:                           # private, random
            addr = private[core] + rng.randrange(0xC00)
            size = rng.choice([1, 4, 8, 8, 16, line, line + 3])
        elif pick < 0.75:                           # a stream: prefetchers train on it
            stream = streams[core]
            if rng.random() < 0.08:
                stream[0] = private[core] + rng.randrange(0xC00) // line * line
                stream[1] = rng.choice([line, 2 * line, -line, 3 * line])
            stream[0] += stream[1]
            if not private[core] <= stream[0] < private[core] + 0xC00:
                stream[0] = private[core] + 0x600
            addr, size = stream[0] + rng.choice([0, 0, 8]), 8
        elif pick < 0.85:                           # spread pages: TLB misses
            addr = spread + rng.randrange(24) * page + rng.randrange(4) * line
            size = rng.choice([4, 8])
        elif pick < 0.90:                           # big and spanning, across a page
            addr = shared + rng.randrange(-3 * line, 6 * line)
            size = rng.randrange(line, 5 * line)
        else:                                       # a free of a shared or private object
            base = shared if rng.random() < 0.8 else private[rng.randrange(args.cores)]
            addr = base + rng.randrange(12 * line) // 8 * 8
            op, size = "F", rng.choice([8, 16, 32, line])
        out.append("%d %s 0x%x %d" % (core, op, addr, size))
    sys.stdout.write("\n".join(out) + "\n")


# ------------------------------------------------------ `compare`

def compare(argv):
    """Two CSV files must be equal cell for cell; print the first difference
    (row by its first cell, column by its header) and exit 1 otherwise."""
    want_path, got_path = argv

    def rows(path):
        with open(path) as f:
            return [line.rstrip("\n").split(",") for line in f if line.strip()]
    want, got = rows(want_path), rows(got_path)
    if not want or not got or want[0] != got[0]:
        print("headers differ:\n  reference: %s\n  hlsim:     %s"
              % (",".join(want[0]) if want else "(empty)", ",".join(got[0]) if got else "(empty)"))
        return 1
    header = want[0]
    for i in range(max(len(want), len(got))):
        if i >= len(want) or i >= len(got):
            extra = (got if i >= len(want) else want)[i]
            print("row %d only in %s: %s" % (i, "hlsim" if i >= len(want) else "reference", ",".join(extra)))
            return 1
        for column, (a, b) in enumerate(zip(want[i], got[i])):
            if a != b:
                print("row %s (line %d), column %s: reference %s, hlsim %s"
                      % (want[i][0], i + 1, header[column], a, b))
                return 1
        if len(want[i]) != len(got[i]):
            print("row %s: %d cells in the reference, %d in hlsim" % (want[i][0], len(want[i]), len(got[i])))
            return 1
    return 0


def main():
    argv = sys.argv[1:]
    try:
        if argv[:1] == ["gen"]:
            generate(argv[1:])
        elif argv[:1] == ["compare"]:
            sys.exit(compare(argv[1:]))
        else:
            simulate(argv)
    except (SimError, OSError, ValueError) as e:
        sys.exit("sim_ref.py: %s" % e)


if __name__ == "__main__":
    main()
