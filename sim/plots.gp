# sim/plots.gp: memx-sim's plots, from the CSV files it writes with --out DIR:
#   gnuplot -e "dir='results/sim'" sim/plots.gp
# summary.csv and loss.csv: one row per cluster size and placement (p2c: power of two
# choices, no groups; copysets); timeline-*.csv and events-*.csv: the largest size, hourly
# and per failure or drain. Dashed lines: Infiniswap's figures on 32 machines.
set datafile separator ","
set terminal pngcairo size 900,560 font "sans,10"
set termoption noenhanced
set key below
set grid
stats dir.'/summary.csv' using 1 nooutput
maxn = STATS_max

set output dir.'/utilisation.png'
set title sprintf("Cluster memory in use over a week, %d donors", maxn)
set xlabel "hour"
set ylabel "memory in use (share of all donors' memory)"
set yrange [0:1]
set arrow 1 from graph 0, first 0.408 to graph 1, first 0.408 nohead dt 2 lc rgb "gray40"
set arrow 2 from graph 0, first 0.60 to graph 1, first 0.60 nohead dt 2 lc rgb "black"
plot dir.'/timeline-p2c.csv' using 1:4 every ::1 with lines lw 2 title "local use only", \
     dir.'/timeline-p2c.csv' using 1:5 every ::1 with lines lw 2 title "with memx, p2c", \
     dir.'/timeline-copysets.csv' using 1:5 every ::1 with lines lw 2 dt 3 title "with memx, copysets"
unset arrow

set output dir.'/imbalance.png'
set title sprintf("Imbalance over a week, %d donors (dashed: Infiniswap 22.5x -> 2.7x)", maxn)
set ylabel "max / min (log)"
set logscale y
set yrange [1:*]
set arrow 1 from graph 0, first 22.5 to graph 1, first 22.5 nohead dt 2 lc rgb "gray40"
set arrow 2 from graph 0, first 2.7 to graph 1, first 2.7 nohead dt 2 lc rgb "black"
plot dir.'/timeline-p2c.csv' using 1:6 every ::1 with lines lw 2 title "machine use, local only", \
     dir.'/timeline-p2c.csv' using 1:7 every ::1 with lines lw 2 title "machine use with memx, p2c", \
     dir.'/timeline-copysets.csv' using 1:7 every ::1 with lines lw 2 dt 3 title "machine use with memx, copysets", \
     dir.'/timeline-p2c.csv' using 1:13 every ::1 with lines lw 2 title "machine use with memx, p2c, donors up >= 24 h", \
     dir.'/timeline-p2c.csv' using 1:9 every ::1 with lines lw 1 title "donor load max/median, p2c", \
     dir.'/timeline-copysets.csv' using 1:9 every ::1 with lines lw 1 dt 3 title "donor load max/median, copysets"
unset arrow
unset logscale y

# Rows of a CSV file that an awk condition picks (lines join only rows that are all kept).
sel(f, cond) = sprintf("< awk -F, 'NR > 1 && (%s)' %s/%s", cond, dir, f)

set output dir.'/loss-k.png'
set title sprintf("Data loss when k donors fail at once, %d donors, at the peak", maxn)
set xlabel "donors failing at once (k)"
set ylabel "P(some slab lost)"
set yrange [0:1]
set xrange [0:9]
plot sel("loss.csv", sprintf('$1 == %d && $2 == "p2c" && $4 == 0', maxn)) using 3:6 with linespoints lw 2 title "p2c", \
     sel("loss.csv", sprintf('$1 == %d && $2 == "copysets" && $4 == 0', maxn)) using 3:6 with linespoints lw 2 title "copysets"
set xrange [*:*]

set output dir.'/loss-size.png'
set title "Data loss against cluster size (10 volumes per donor)"
set xlabel "donors (log)"
set logscale x
set ylabel "P(some slab lost)"
set yrange [0:1]
plot sel("loss.csv", '$2 == "p2c" && $3 == 2 && $4 == 0') using 1:6 with linespoints lw 2 title "2 donors fail, p2c", \
     sel("loss.csv", '$2 == "copysets" && $3 == 2 && $4 == 0') using 1:6 with linespoints lw 2 title "2 donors fail, copysets", \
     sel("loss.csv", '$2 == "p2c" && $3 == 3 && $4 == 0') using 1:6 with linespoints lw 2 dt 2 title "3 donors fail, p2c", \
     sel("loss.csv", '$2 == "copysets" && $3 == 3 && $4 == 0') using 1:6 with linespoints lw 2 dt 2 title "3 donors fail, copysets", \
     sel("loss.csv", '$2 == "p2c" && $4 == 1') using 1:6 with linespoints lw 2 dt 3 title "a rack fails, p2c", \
     sel("loss.csv", '$2 == "copysets" && $4 == 1') using 1:6 with linespoints lw 2 dt 3 title "a rack fails, copysets"

set output dir.'/placement-cost.png'
set title "The engine's placement: cost per slab (all its replicas), measured"
set ylabel "ns per slab"
set yrange [0:*]
plot sel("summary.csv", '$3 == "p2c"') using 1:14 with linespoints lw 2 title "p2c", \
     sel("summary.csv", '$3 == "copysets"') using 1:14 with linespoints lw 2 title "copysets"
unset logscale x

set output dir.'/recovery.png'
set title sprintf("Recovery per event, %d donors (64 MiB/s per volume, 100 Gb/s links)", maxn)
set xlabel "hour"
set ylabel "recovery time (s)"
set y2label "GiB copied"
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
ev(k, c) = strcol(2) eq k ? column(c) : NaN
plot dir.'/events-p2c.csv' using 1:(ev("donor-fails", 6)) every ::1 with points pt 7 ps 0.6 title "donor fails: s, p2c", \
     dir.'/events-p2c.csv' using 1:(ev("rack-fails", 6)) every ::1 with points pt 5 ps 1.2 title "rack fails: s, p2c", \
     dir.'/events-copysets.csv' using 1:(ev("rack-fails", 6)) every ::1 with points pt 4 ps 1.2 title "rack fails: s, copysets", \
     dir.'/events-p2c.csv' using 1:(ev("donor-drains", 6)) every ::1 with points pt 2 ps 0.6 title "donor drains: s, p2c", \
     dir.'/events-p2c.csv' using 1:(ev("rack-fails", 5)) every ::1 axes x1y2 with impulses lw 2 title "rack fails: GiB, p2c"
