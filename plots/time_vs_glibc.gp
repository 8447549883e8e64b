# plots/time_vs_glibc.gp: the time-vs-glibc figure drawn by gnuplot (Debian gnuplot-nox)
# from the data file plots/bench_plots.py writes (plots/out/RUN/time_vs_glibc.dat):
# a header line "cell ALLOC1 ALLOC2 ...", then one line per workload/threads cell with
# each allocator's median wall time divided by glibc's in that cell, NA where absent.
#
# bench_plots.py runs it once per format, with these variables set by -e:
#   datafile  the .dat file        outfile  the image to write
#   term      a gnuplot terminal   colours  one #rrggbb per allocator column (the
#   n         allocator columns              same colours as the matplotlib figures)
# By hand: gnuplot -e "datafile='plots/out/RUN/time_vs_glibc.dat'; \
#   outfile='t.png'; term='pngcairo size 1400,600'; colours='#ff7f0e'; n=1" plots/time_vs_glibc.gp
set terminal @term font ",8"
set output outfile
set datafile missing "NA"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set key outside top center horizontal autotitle columnhead
set title "Replay wall time relative to glibc (median over repeats; NA cells left empty)"
set ylabel "time / glibc time (lower: better)"
set xlabel "workload / threads"
set xtics rotate by 90 right scale 0 font ",6"
set grid ytics
set yrange [0:*]
plot for [i=2:n+1] datafile using i:xtic(1) linecolor rgb word(colours, i-1), \
     1 with lines dashtype 2 linecolor rgb "black" title "glibc"
