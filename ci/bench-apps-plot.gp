# ci/bench-apps-plot.gp: ci/bench's application chart. ci/bench-report.py writes
# dir/chart-apps-{redis-rps,redis-p99,batch}.dat (one row per fit, one column per device:
# noswap memx memx_r1 memx_ublk nvmeof nvmeof_raid1 nbd zram brd; 0 where not measured) and calls
#   gnuplot -e "dir='...'" ci/bench-apps-plot.gp
set terminal pngcairo size 1500,560 font "sans,10"
set output dir.'/chart-apps.png'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set termoption noenhanced
set grid ytics
set yrange [0:*]
# gnuplot has 8 colours and then repeats them: brd, the ninth, gets its own.
set linetype 9 lc rgb "#8c564b"
cols = "no-swap memx memx-replicas-1 memx-ublk NVMe-oF/RDMA NVMe-oF-RAID1 NBD/TCP zram-lz4 brd"
# One legend for all panels, in a strip along the bottom (the first panel draws it).
set multiplot layout 1,3 margins 0.05,0.98,0.20,0.88 spacing 0.06,0 \
	title "Redis and a batch job at 100/75/50% memory fit, swap on each device, one boot (no bar: not measured)"
set key at screen 0.5,0.01 center bottom horizontal maxcols 5 maxrows 2 font "sans,10"
set title "Redis requests/s (higher is better)"
set ylabel "req/s"
plot for [i=2:10] dir.'/chart-apps-redis-rps.dat' using i:xtic(1) title word(cols, i-1)
unset key
set title "Redis GET p99 latency (lower is better)"
set ylabel "us"
plot for [i=2:10] dir.'/chart-apps-redis-p99.dat' using i:xtic(1) notitle
set title "batch job wall time (lower is better)"
set ylabel "s"
plot for [i=2:10] dir.'/chart-apps-batch.dat' using i:xtic(1) notitle
unset multiplot
