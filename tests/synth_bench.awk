# tests/synth_bench.awk: a synthetic bench.csv with every column, for the plot and
# paper tests (awk -f tests/synth_bench.awk). Values are computed from the allocator's
# index i (1..9 in ALLOCATOR order), the thread count t and the repeat, so the tests
# know the medians: wall = speed[i] * t * (1 + 0.05 * repeat); LLC misses 50t for
# ravioli, 100t otherwise; transfers 40*i*t (0 at one thread), 10*i of them false;
# and a ravioli page-size sweep on larson t=4 (4K..2M): dTLB misses 3000/k, k =
# log2(page) - 11; bytes mapped 1 MiB + 4 * page over 1 MiB live.
# -v ravioli=0 leaves ravioli out (rows and sweep).
BEGIN {
  OFS = ","
  print "run_id,workload,repeat,allocator,threads,page_size_bytes,events,wall_s,events_per_s," \
        "peak_rss_kib,rss_before_kib,alloc_bytes_live,alloc_bytes_mapped,alloc_objects_live," \
        "alloc_pages,alloc_pool_pages,alloc_pages_returned,alloc_fixups,alloc_transfer_bytes," \
        "sim_config,sim_capture,sim_app_accesses,sim_alloc_accesses,sim_l1d_misses,sim_l2_misses," \
        "sim_llc_misses,sim_dtlb_misses,sim_stlb_misses,sim_walks,sim_transfers,sim_true_sharing," \
        "sim_false_sharing,sim_invalidations,sim_writebacks,status"
  n = split("system jemalloc mimalloc tcmalloc arena ravioli stable unit null", A, " ")
  split("1.0 0.8 0.7 0.9 0.85 1.2 1.5 0.6 0.1", speed, " ")
  for (w = 1; w <= 2; w++) for (t = 1; t <= 4; t *= 2) for (rep = 1; rep <= 3; rep++)
    for (i = 1; i <= n; i++) {
      a = A[i]; if (a == "ravioli" && ravioli == "0") continue; ev = 100000 * t
      wall = speed[i] * t * (1 + 0.05 * rep)
      cap = (a == "system" || a == "jemalloc" || a == "mimalloc" || a == "tcmalloc") ? "placement" : "app+alloc"
      l1 = 1000 * i * t; llc = (a == "ravioli") ? 50 * t : 100 * t
      tr = (t > 1) ? 40 * i * t : 0; fs = (t > 1) ? 10 * i : 0
      live = (a == "null") ? "NA" : 1048576; mapped = (a == "null") ? "NA" : 1048576 * (1 + i / 10)
      print "syn", (w == 1 ? "larson" : "xmalloc"), rep, a, t, 0, ev, wall, ev / wall,
            4096 + 256 * i, 1024, live, mapped, 100, 10, 2, 1, 0, 0, "\"skylake, 4 cores, 4K pages\"", cap,
            ev * 3, (cap == "placement" ? 0 : ev), l1, l1 / 2, llc, 30 * t, 10 * t, 5 * t,
            tr, tr - fs, fs, tr / 2, 7, "ok"
    }
  # the sweep: ravioli at 4 KiB .. 2 MiB on larson t=4; TLB misses fall, overhead rises
  if (ravioli != "0") for (p = 4096; p <= 2097152; p *= 8) for (rep = 1; rep <= 3; rep++) {
    k = log(p) / log(2) - 11
    print "syn", "larson", rep, "ravioli", 4, p, 400000, 1.0, 400000, 8192 + p / 1024, 1024,
          1048576, 1048576 + 4 * p, 100, 10, 2, 1, 5, 4096, "\"skylake, 4 cores, 4K pages\"", "app+alloc",
          1200000, 400000, 4000, 2000, 200, 3000 / k, 1000 / k, 500 / k, 160, 120, 40, 80, 7, "ok"
  }
}
