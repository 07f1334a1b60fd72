# ci/bench-plot.gp: ci/bench's chart. ci/bench-report.py writes dir/chart-*.dat (one row per
# job, one column per device: memx memx_r1 memx_ublk nvmeof nvmeof_raid1 nbd zram brd) and calls
#   gnuplot -e "dir='...'; wbw=..; rbw=..; wlat=..; rlat=.." ci/bench-plot.gp
# wbw/rbw: perftest ib_write_bw/ib_read_bw ops/s; wlat/rlat: ib_write_lat/ib_read_lat mean us
# (NaN when not measured). Dashed lines mark those link limits.
set terminal pngcairo size 1400,1000 font "sans,10"
set output dir.'/chart.png'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set termoption noenhanced
set grid ytics
set yrange [0:*]
cols = "memx memx-replicas-1 memx-ublk NVMe-oF/RDMA NVMe-oF-RAID1 NBD/TCP zram-lz4 brd"
# One legend for the four panels, in a strip along the bottom (the first panel draws it).
set multiplot layout 2,2 margins 0.06,0.98,0.09,0.93 spacing 0.07,0.1 \
	title "memx vs peers, one Soft-RoCE link, one boot (compare ratios only; no bar: not measured)"
set key at screen 0.5,0.01 center bottom horizontal maxcols 8 maxrows 1 font "sans,10"

set title "4 KiB random IOPS (red dashed: ib_write_bw, blue dotted: ib_read_bw)"
set ylabel "IOPS"
unset arrow
if (wbw == wbw) { set arrow 1 from graph 0, first wbw to graph 1, first wbw nohead dt 2 lw 2 lc rgb "red" }
if (rbw == rbw) { set arrow 2 from graph 0, first rbw to graph 1, first rbw nohead dt 3 lw 2 lc rgb "blue" }
plot for [i=2:9] dir.'/chart-iops.dat' using i:xtic(1) title word(cols, i-1)
unset arrow
unset key

set title "4 KiB QD1 mean latency (red dashed: ib_read_lat, blue dotted: ib_write_lat)"
set ylabel "us"
if (rlat == rlat) { set arrow 1 from graph 0, first rlat to graph 1, first rlat nohead dt 2 lw 2 lc rgb "red" }
if (wlat == wlat) { set arrow 2 from graph 0, first wlat to graph 1, first wlat nohead dt 3 lw 2 lc rgb "blue" }
plot for [i=2:9] dir.'/chart-lat.dat' using i:xtic(1) notitle
unset arrow

set title "128 KiB sequential, QD 8"
set ylabel "MB/s"
plot for [i=2:9] dir.'/chart-mbps.dat' using i:xtic(1) notitle

set title "swap workload wall time (lower is better)"
set ylabel "s"
plot for [i=2:9] dir.'/chart-swap.dat' using i:xtic(1) notitle
unset multiplot
