# plot.gp - draws build/bench/bench.svg (and bench.png when pngcairo exists)
# from the data files snapvm-bench writes: ratios.dat (every measured figure:
# ours / baseline, with the p10..p90 range, the issue's target, whether it is
# an upper bound or, for a throughput, a lower one, and a stretch target) and
# restore.dat (restore time against dirty pages, ours and the full copy).
#   gnuplot -e "datadir='build/bench'" bench/plot.gp
if (!exists("datadir")) datadir = "build/bench"
load datadir."/plot.vars"

set datafile commentschars "#"
set style fill solid 0.6 border -1
set grid ytics
set key top left

draw_ratios(_) = 0
set macros
RATIOS = "set key top left; set logscale y; set ylabel 'ours / baseline (log; lower is better, except at \"at least\" targets)'; \
  set xtics rotate by -45 left font ',9' nomirror noenhanced; set bmargin 11; set xrange [-1:nratios]; \
  set title 'snapvm vs. baselines from the same run: '.where; \
  plot datadir.'/ratios.dat' using 1:3:7:xtic(2) with boxes lc rgb variable \
         title 'ratio (median): target met (green), missed (red), none (blue)', \
       '' using 1:3:5:6 with yerrorbars lc rgb 'black' pt -1 title 'p10..p90', \
       '' using 1:($4 > 0 && $8 > 0 ? $4 : 1/0) with points pt 9 ps 1.2 lc rgb 'black' title 'target (at most)', \
       '' using 1:($4 > 0 && $8 < 0 ? $4 : 1/0) with points pt 11 ps 1.2 lc rgb 'black' title 'target (at least)', \
       '' using 1:($9 > 0 && $8 > 0 ? $9 : 1/0) with points pt 8 ps 1.2 lc rgb 'black' title 'stretch target (at most)', \
       '' using 1:($9 > 0 && $8 < 0 ? $9 : 1/0) with points pt 10 ps 1.2 lc rgb 'black' title 'stretch target (at least)', \
       1 with lines dt 2 lc rgb 'gray' notitle"
RESTORE = "unset xtics; set xtics nomirror; set logscale xy; set xlabel 'pages dirtied since the last restore'; \
  set ylabel 'time per restore, ns'; set xrange [0.7:6000]; \
  set key bottom right; set title 'restore of a 64 MiB snapshot: dirty pages only vs. full copy (Hyperlight)'; \
  plot for [L in 'i686 amd64'] datadir.'/restore.dat' using (strcol(1) eq L ? $2 : 1/0):3:4:5 \
         with yerrorlines lw 2 title 'snapvm restore, '.L, \
       for [L in 'i686 amd64'] '' using (strcol(1) eq L ? $2 : 1/0):6 with lines dt 2 lw 2 \
         title 'full copy + zero scratch, '.L"

do for [term in "svg png"] {
	if (term eq "svg") {
		set terminal svg size 1200,900 dynamic font "sans,11" background rgb "white"
		set output datadir."/bench.svg"
	} else {
		if (strstrt(GPVAL_TERMINALS, "pngcairo") == 0) { break }
		set terminal pngcairo size 1200,900 font "sans,9" background rgb "white"
		set output datadir."/bench.png"
	}
	set multiplot
	set size 1, (have_restore ? 0.58 : 1); set origin 0, (have_restore ? 0.42 : 0)
	if (nratios > 0) { @RATIOS } else { set title "no figure was measured"; plot 1/0 notitle }
	if (have_restore) {
		unset logscale; set xtics auto; set bmargin 4
		set size 1, 0.42; set origin 0, 0
		@RESTORE
	}
	unset multiplot
	set output
	unset logscale; unset xlabel; unset ylabel; set xtics auto; set autoscale; set bmargin
}
