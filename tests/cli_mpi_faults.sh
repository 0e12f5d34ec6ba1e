#!/usr/bin/env bash
# Data-parallel checkpoints and faults: a checkpoint written by 2 processes resumes with 1 and
# with 3 and ends where an uninterrupted single-process run does (rtol 1e-4); SIGTERM to the
# launcher in the middle of an epoch stops every rank at the same step, rank 0 writes the
# checkpoint and prints the resume command, and the resumed run equals the uninterrupted one; a
# rank killed with SIGKILL ends the job within seconds with a non-zero exit naming the rank.
source "$(dirname "$0")/mpi_common.sh"

run 1 U --set training.epochs=3 || { bad "uninterrupted N=1, 3 epochs"; tail -n 30 U.txt; }
run 2 R --set training.epochs=2 || { bad "N=2, 2 epochs"; tail -n 30 R.txt; }
r_dir=$(dirname "$(ckpt R)")
for n in 1 3; do
  rm -rf "Resume$n"
  cmd=("$exe" train --resume "$r_dir" --set training.epochs=3 --set output.runs_dir="Resume$n/runs"
       --set output.model_save_dir="Resume$n/models" -q --json)
  [ "$n" -gt 1 ] && cmd=("${launch[@]}" -n "$n" "${cmd[@]}")
  timeout 240 "${cmd[@]}" > "Resume$n.txt" 2>&1 || { bad "resume at N=$n"; tail -n 30 "Resume$n.txt"; }
  same "checkpoint of N=2 resumed at N=$n vs uninterrupted" "$(ckpt Resume$n)" "$(ckpt U)" --skip best.
done

# SIGTERM to the launcher: every rank stops itself before step 7 (epoch 2, batch 3 of 5); the test
# signals the launcher, which continues the ranks (SIGCONT), then sends them SIGTERM
ranks_of() { # the cltrain processes under PID
  ps -eo pid=,ppid=,comm= | awk -v root="$1" '{p[$1]=$2; c[$1]=$3} END {for (k in p) {x=k; while (x in p && x != root) x=p[x]; if (x == root && c[k] == "cltrain") print k}}'
}
if [ "$openmpi" = 1 ]; then
  CLTRAIN_TEST_PAUSE_AT_STEP=7 "${launch[@]}" "${grace[@]}" -n 2 "$exe" train "${small[@]}" --set training.epochs=3 \
    --set output.runs_dir=T/runs --set output.model_save_dir=T/models > T.txt 2>&1 &
  mpid=$!
  stopped=0
  for _ in $(seq 1 1200); do
    pids=$(ranks_of $mpid)
    n=0
    for p in $pids; do [ "$(awk '{print $3}' /proc/$p/stat 2> /dev/null)" = T ] && n=$((n + 1)); done
    [ "$n" = 2 ] && { stopped=1; break; }
    kill -0 $mpid 2> /dev/null || break
    sleep 0.1
  done
  [ $stopped = 1 ] && ok "both ranks paused before step 7" || bad "ranks did not pause"
  kill -TERM $mpid
  wait $mpid
  rc=$?
  [ $rc != 0 ] && ok "interrupted job exits non-zero ($rc)" || bad "interrupted job exit 0"
  t_dir=$(ls -d T/runs/*.interrupted 2> /dev/null | head -n 1)
  [ -s "$t_dir/last.safetensors" ] && ok "checkpoint in $t_dir" || { bad "no interrupted checkpoint"; tail -n 30 T.txt; }
  # the flag set before step 7 travels with step 7's gradient reduction: every rank stops before step 8
  grep -q "interrupted in epoch 2/3 before batch 4/5: checkpoint written" "$t_dir/train.log" &&
    ok "all ranks stopped at the same step (epoch 2, before batch 4)" || bad "train.log: $(tail -n 2 "$t_dir/train.log")"
  grep -q "resume with: mpirun -np 2 .* train --resume $t_dir" T.txt && ok "resume command printed" ||
    { bad "no resume command"; tail -n 10 T.txt; }
  timeout 240 "${launch[@]}" -n 2 "$exe" train --resume "$t_dir" -q --json > T2.txt 2>&1 ||
    { bad "resume of the interrupted run"; tail -n 30 T2.txt; }
  same "SIGTERM + resume vs uninterrupted" "$(ls -td T/runs/*_acc*/last.safetensors | head -n 1)" "$(ckpt U)" --skip best.
fi

# a rank killed: the job ends, non-zero, naming the rank, no hang
"${launch[@]}" -n 2 "$exe" train "${small[@]}" --subset 2400 --set training.epochs=50 \
  --set output.runs_dir=K/runs --set output.model_save_dir=K/models > K.txt 2>&1 &
mpid=$!
victim=
for _ in $(seq 1 1200); do
  grep -q "batch 5/" K/runs/*/train.log 2> /dev/null && { victim=$(ranks_of $mpid | sort -n | tail -n 1); break; }
  kill -0 $mpid 2> /dev/null || break
  sleep 0.1
done
if [ -n "$victim" ]; then
  t0=$(date +%s)
  kill -KILL "$victim"
  for _ in $(seq 1 300); do kill -0 $mpid 2> /dev/null || break; sleep 0.1; done
  if kill -0 $mpid 2> /dev/null; then
    bad "the job still runs 30 s after a rank was killed"; kill -KILL $mpid
  fi
  wait $mpid
  rc=$?
  [ $rc != 0 ] && ok "killed rank: job ended in $(( $(date +%s) - t0 )) s with exit $rc" || bad "killed rank: exit 0"
  # Open MPI names the rank; MPICH's hydra the PID, which train.log maps to its rank
  if grep -qi "rank 1 " K.txt; then
    ok "the launcher names the rank: $(grep -i -m1 'rank 1 ' K.txt | cut -c1-100)"
  elif grep -q "PID $victim " K.txt && grep -q "process ids (rank:pid): 0:[0-9]* 1:$victim" K/runs/*/train.log; then
    ok "the launcher names PID $victim, train.log says it is rank 1"
  else
    bad "no rank named"; tail -n 20 K.txt
  fi
else
  bad "the long run never reached batch 5"; kill -KILL $mpid 2> /dev/null; tail -n 20 K.txt
fi
finish
