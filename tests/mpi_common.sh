# Shared by tests/cli_mpi*.sh (sourced): the launcher, a small network on the 3,000-image
# fixture, and helpers. CLTRAIN_MPIEXEC: the launcher (CMake passes the one FindMPI found;
# mpiexec.mpich for a build against MPICH). As root, Open MPI needs the two ALLOW variables.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
py=${CLTRAIN_PYTHON:-python3}
mpiexec=${CLTRAIN_MPIEXEC:-}
if [ -z "$mpiexec" ] || ! command -v "$mpiexec" > /dev/null; then
  echo "FAIL no MPI launcher (CLTRAIN_MPIEXEC='$mpiexec'): install openmpi-bin libopenmpi-dev (ci/setup-debian.sh) and reconfigure"
  exit 1
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI: more ranks than cores, no binding (POCL threads); grace: on SIGTERM Open MPI's mpirun
# sends the ranks SIGCONT, SIGTERM after odls_base_sigkill_timeout seconds (default 1), SIGKILL as
# long after: 3 s leaves a loaded machine time to checkpoint. MPICH's hydra needs none of these.
launch=("$mpiexec")
grace=()
if "$mpiexec" --version 2>&1 | grep -qi "open-\?mpi\|OpenRTE"; then
  openmpi=1
  launch+=(--oversubscribe --bind-to none)
  grace=(--mca odls_base_sigkill_timeout 3)
else
  openmpi=0
fi
cd "$work"
# 240 training images, global batch 48 (divisible by 1, 2, 3): 5 steps per epoch; no BatchNorm, so
# N processes compute what one device does (dropout keyed by the global image index)
small=(--data "$here/fixtures/mnist-small" --subset 240 --set model.conv1_channels=8 --set model.conv2_channels=8
       --set model.conv3_channels=16 --set model.hidden_size=32 --set model.use_batch_norm=false
       --set training.batch_size=48 --set training.log_interval=5 -q)
run() { # run N OUTDIR args...: N processes (N=1: no launcher), output in OUTDIR.txt, JSON last line
  local n=$1 d=$2; shift 2
  local cmd=("$exe" train "${small[@]}" --set output.runs_dir="$d/runs" --set output.model_save_dir="$d/models" --json "$@")
  if [ "$n" -gt 1 ]; then cmd=("${launch[@]}" -n "$n" "${cmd[@]}"); fi
  timeout 240 "${cmd[@]}" > "$d.txt" 2>&1
}
ckpt() { ls -d "$1"/runs/*/last.safetensors 2> /dev/null | head -n 1; }
field() { tail -n 1 "$1" | "$py" -c "import json,sys; print(json.load(sys.stdin)['$2'])" 2> /dev/null; }
same() { # same WHAT A B [compare args]: tensors of checkpoint A and B within rtol 1e-4
  local what=$1 a=$2 b=$3; shift 3
  if [ -s "$a" ] && [ -s "$b" ] && "$py" "$here/st_compare.py" "$a" "$b" "$@" > cmp.txt 2>&1; then
    ok "$what: $(cat cmp.txt)"
  else
    bad "$what"; cat cmp.txt 2> /dev/null
  fi
}
