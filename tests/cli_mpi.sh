#!/usr/bin/env bash
# Data-parallel training (mpiexec -n N cltrain train) equals one device on the whole batch (a
# network without BatchNorm; with it: tests/cli_mpi_syncbn.sh): the ranks' slices are disjoint
# and cover every global batch in order; the gradients after one SGD step (the momentum buffers
# of the checkpoint) and the parameters + optimizer state after 5 Adam steps match a
# single-process run (rtol 1e-4); validation and test accuracy are equal for N = 1, 2, 3; the log
# and --json name the world size and communication time; an indivisible global batch and ranks
# started with different configs are refused.
source "$(dirname "$0")/mpi_common.sh"

for n in 1 3; do
  CLTRAIN_TEST_SHARDS="$work/shards$n" run $n adam$n --set training.epochs=1 ||
    { bad "adam N=$n run"; tail -n 30 adam$n.txt; }
done
run 2 adam2 --set training.epochs=1 || { bad "adam N=2 run"; tail -n 30 adam2.txt; }
same "Adam, 5 steps: N=3 vs one process" "$(ckpt adam3)" "$(ckpt adam1)"
same "Adam, 5 steps: N=2 vs one process" "$(ckpt adam2)" "$(ckpt adam1)"
for k in final_val_accuracy test_accuracy; do
  a=$(field adam1.txt $k) b=$(field adam2.txt $k) c=$(field adam3.txt $k)
  [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] && ok "$k equal for N=1,2,3 ($a)" || bad "$k: '$a' '$b' '$c'"
done
[ "$(field adam3.txt world_size)" = 3 ] && ok "--json world_size 3" || bad "--json world_size"
"$py" - adam3.txt << 'PY' && ok "--json communication time per step" || bad "--json comm_seconds_per_step"
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
sys.exit(0 if j["comm_seconds_per_step"] > 0 and j["devices_per_rank"] == 1 and j["gradient_bytes"] > 0 else 1)
PY
grep -q "data parallel: 3 processes" adam3/runs/*/train.log && grep -q "communication: .* ms per step" adam3/runs/*/train.log &&
  ok "train.log: world size and communication" || bad "train.log lacks the data-parallel lines"
[ "$(ls -d adam3/runs/* | wc -l)" = 1 ] && ok "one run folder (rank 0 writes)" || bad "run folders: $(ls adam3/runs)"

# shards: each step's slices of ranks 0, 1, 2 joined == the single process's batch
if [ -s shards1.0 ] && [ -s shards3.2 ] &&
   paste -d' ' shards3.0 <(cut -d' ' -f2- shards3.1) <(cut -d' ' -f2- shards3.2) | cmp -s - shards1.0; then
  ok "shards: 3 disjoint slices cover each global batch in order ($(wc -l < shards1.0) steps)"
else
  bad "shards differ from the single process's batches"
fi
dups=$(cut -d' ' -f2- shards3.0 shards3.1 shards3.2 | tr ' ' '\n' | sort | uniq -d | wc -l)
[ "$dups" = 0 ] && ok "shards: no image twice in an epoch" || bad "shards: $dups images twice"

# SGD (momentum 0.9, weight decay): after 1 step the momentum buffer is the reduced gradient (5 SGD
# steps: tests/cli_mpi_syncbn.sh)
sgd=(--set training.optimizer_type=sgd --set training.learning_rate=0.05 --set training.epochs=1)
run 1 grad1 "${sgd[@]}" --subset 48 || { bad "1 step N=1"; tail -n 30 grad1.txt; }
run 2 grad2 "${sgd[@]}" --subset 48 || { bad "1 step N=2"; tail -n 30 grad2.txt; }
same "gradients after one step (momentum buffers): N=2 vs one process" "$(ckpt grad2)" "$(ckpt grad1)"

# a global batch the processes cannot share evenly is refused
run 2 odd --set training.batch_size=45 --set training.epochs=1
rc=$?
[ $rc = 2 ] || [ $rc = 1 ] && grep -q "divisible by" odd.txt && ok "batch 45 on 2 processes refused" ||
  { bad "batch 45 on 2 processes: exit $rc"; tail -n 5 odd.txt; }

# ranks started with different configs (MPMD: rank 1 with another learning rate) stop at start-up
one=("$exe" train "${small[@]}" --set output.runs_dir=D/runs --set output.model_save_dir=D/models --set training.epochs=1)
timeout 120 "${launch[@]}" -n 1 "${one[@]}" : -n 1 "${one[@]}" --set training.learning_rate=0.002 > disagree.txt 2>&1
rc=$?
[ $rc != 0 ] && grep -q "disagree: the config .* on rank 1 differs from rank 0's" disagree.txt &&
  ok "ranks with different configs refused at start-up (exit $rc)" || { bad "disagreeing ranks: exit $rc"; tail -n 8 disagree.txt; }
[ ! -e D/runs ] || [ -z "$(ls -A D/runs 2> /dev/null)" ] && ok "nothing written by the refused run" || bad "refused run wrote $(ls D/runs)"
# other commands would run N times side by side: refused
timeout 60 "${launch[@]}" -n 2 "$exe" pipeline --data "$here/fixtures/mnist-small" > pipe.txt 2>&1
rc=$?
[ $rc != 0 ] && grep -q "only 'train' and 'bench' run" pipe.txt && ok "pipeline under the launcher refused (exit $rc)" ||
  { bad "pipeline under the launcher: exit $rc"; tail -n 5 pipe.txt; }
finish
