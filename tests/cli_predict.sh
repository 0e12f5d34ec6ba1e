#!/usr/bin/env bash
# End to end: `cltrain predict`. Trains a small model on the committed MNIST subset (2 epochs,
# ~30 s), then predicts the IDX test subset (accuracy against the known labels), the picture
# fixtures in fixtures/images (labels from the file names, *_dN.*), checks the JSON fields,
# --probabilities, the confidence threshold, model selection by path, name and default, blank
# pictures, and bad arguments / inputs with their exit codes.
. "$(dirname "$0")/common.sh"
expect_rc() { # want got what
  [ "$2" -eq "$1" ] && ok "$3: exit $2" || { bad "$3: exit $2, want $1"; cat "$work/err" >&2; }
}
img="$here/fixtures/images"
mnist="$here/fixtures/mnist-small"
store=(--set output.model_save_dir="$work/models")

"$exe" train --data "$mnist" --set training.epochs=2 --set augmentation.use_data_augmentation=false \
  --set early_stopping.use_early_stopping=false --set output.model_save_dir="$work/models" \
  --set output.runs_dir="$work/runs" -q --json > "$work/train.txt" 2> "$work/err"
expect_rc 0 $? "train a model"
model=$(tail -n 1 "$work/train.txt" | sed -n 's/.*"model_path":"\([^"]*\)".*/\1/p')
[ -s "$model" ] || { bad "no model file ('$model')"; finish; }
name=$(basename "$model" .safetensors)

# --- the IDX test subset: accuracy against the labels ------------------------------------------
"$exe" predict --model "$model" --json "$mnist/t10k-images-idx3-ubyte.gz" > "$work/idx.txt" 2> "$work/err"
expect_rc 0 $? "predict an IDX file"
json=$(tail -n 1 "$work/idx.txt")
for k in predictions count avg_confidence low_confidence_count high_confidence_count confidence_threshold errors \
         skipped model_path model_name mean std batch_size device; do
  printf '%s' "$json" | grep -q "\"$k\":" && ok "json has $k" || bad "json lacks $k"
done
printf '%s' "$json" | grep -q '"count":1000,' && ok "1000 predictions" || bad "count is not 1000"
printf '%s' "$json" | grep -q '{"input":"[^"]*t10k-images-idx3-ubyte.gz","index":0,"label":[0-9],"confidence":0\.[0-9]*' \
  && ok "prediction fields: input, index, label, confidence" || bad "prediction fields"
printf '%s' "$json" | grep -o '"label":[0-9]' | cut -d: -f2 > "$work/pred_labels"
gzip -dc "$mnist/t10k-labels-idx1-ubyte.gz" | od -An -tu1 -v -j8 | tr -s ' ' '\n' | sed '/^$/d' > "$work/true_labels"
acc=$(paste "$work/pred_labels" "$work/true_labels" | awk '{ n++; if ($1 == $2) c++ } END { if (n) printf "%.3f", c / n; else print 0 }')
echo "IDX accuracy: $acc"
awk -v a="$acc" 'BEGIN { exit !(a > 0.8) }' && ok "IDX accuracy $acc > 0.8 (chance: 0.1)" || bad "IDX accuracy $acc"

# --- pictures: labels from the file names, probabilities -------------------------------------
pics=()
for f in "$img"/*_d[0-9].png "$img"/*_d[0-9].pgm; do pics+=("$f"); done
"$exe" predict "${store[@]}" --model "$name" --probabilities --json "${pics[@]}" > "$work/pics.txt" 2> "$work/err"
expect_rc 0 $? "predict ${#pics[@]} pictures by model name"
json=$(tail -n 1 "$work/pics.txt")
printf '%s' "$json" | grep -q "\"count\":${#pics[@]}," && ok "${#pics[@]} picture predictions" || bad "picture count"
right=$(printf '%s' "$json" | grep -o '"input":"[^"]*_d[0-9]\.p[ng][gm]","index":0,"label":[0-9]' |
  sed 's/.*_d\([0-9]\)\.p[ng][gm]".*"label":\([0-9]\)/\1 \2/' | awk '$1 == $2 { c++ } END { print c + 0 }')
echo "pictures right: $right of ${#pics[@]}"
[ "$right" -ge $((${#pics[@]} - 3)) ] && ok "pictures: $right of ${#pics[@]} right" || bad "pictures: only $right of ${#pics[@]} right"
sums=$(printf '%s' "$json" | grep -o '"probabilities":\[[^]]*\]' | sed 's/.*\[\(.*\)\]/\1/' |
  awk -F, '{ s = 0; for (i = 1; i <= NF; i++) s += $i; if (NF != 10 || s < 0.999 || s > 1.001) bad++ } END { print NR + 0, bad + 0 }')
[ "$sums" = "${#pics[@]} 0" ] && ok "--probabilities: 10 values summing to 1 for every picture" || bad "probabilities: '$sums'"

# --- threshold, text output, default model ---------------------------------------------------
"$exe" predict "${store[@]}" --threshold 1 --json "$img/gray8_d7.png" > "$work/t.txt" 2> "$work/err"
expect_rc 0 $? "--threshold 1 (default model: the newest)"
json=$(tail -n 1 "$work/t.txt")
printf '%s' "$json" | grep -q '"low_confidence_count":1,' && printf '%s' "$json" | grep -q '"warning":"low confidence' \
  && ok "threshold 1: low confidence warning" || bad "threshold warning: $json"
printf '%s' "$json" | grep -q "\"model_name\":\"$name\"" && ok "default model is the newest" || bad "default model"
"$exe" predict "${store[@]}" --threshold 0 --json "$img/gray8_d7.png" > "$work/t.txt" 2> "$work/err"
tail -n 1 "$work/t.txt" | grep -q '"low_confidence_count":0,' && ok "threshold 0: nothing low" || bad "threshold 0"
"$exe" predict "${store[@]}" --set prediction.confidence_threshold=1 "$img/gray8_d7.png" "$img/white_on_black_d6.pgm" \
  > "$work/t.txt" 2> "$work/err"
expect_rc 0 $? "text output"
grep -q 'gray8_d7.png: [0-9]  confidence 0\.[0-9]*  (low confidence' "$work/t.txt" && ok "text: label, confidence, warning" \
  || bad "text line: $(cat "$work/t.txt")"
grep -q '^2 predicted, avg_confidence 0\.[0-9]*, low_confidence_count 2' "$work/t.txt" && ok "text summary" || bad "text summary"

# --- blank pictures and bad inputs -----------------------------------------------------------
"$exe" predict --model "$model" --json "$img/blank.png" "$img/gray1_d1.png" > "$work/t.txt" 2> "$work/err"
expect_rc 0 $? "a blank picture is a warning"
grep -q 'warning: .*blank.png: blank image' "$work/err" && ok "blank warning on stderr" || bad "blank warning"
tail -n 1 "$work/t.txt" | grep -q '"count":1,.*"skipped":\[{"input":"[^"]*blank.png"' && ok "blank listed as skipped" \
  || bad "blank in json"
"$exe" predict --model "$model" --json "$img/gray1_d1.png" "$img/bad_crc.png" "$work/missing.png" \
  "$here/fixtures/idx/u8.idx" "$img/bad_magic.png" "$img/gray8_d7.png" > "$work/t.txt" 2> "$work/err"
expect_rc 3 $? "bad inputs among good ones"
json=$(tail -n 1 "$work/t.txt")
printf '%s' "$json" | grep -q '"count":2,' && ok "the good inputs are still predicted" || bad "good inputs: $json"
for f in bad_crc.png missing.png u8.idx bad_magic.png; do
  grep -q "error: .*$f" "$work/err" && ok "error names $f" || bad "no error naming $f"
  printf '%s' "$json" | grep -q "\"error\":\"[^\"]*$f" && ok "json errors list $f" || bad "json errors lack $f"
done
grep -q 'u8.idx: IDX file holds u8 data of shape (2 x 3)' "$work/err" && ok "IDX shape explained" || bad "IDX shape message"
"$exe" predict --model "$model" "$img/bad_truncated.png" "$img/bad_huge_ihdr.png" > /dev/null 2> "$work/err"
expect_rc 3 $? "only bad inputs"
grep -q 'nothing was predicted' "$work/err" && ok "says nothing was predicted" || bad "all-bad message"

# --- bad arguments ---------------------------------------------------------------------------
"$exe" predict --model "$model" > /dev/null 2> "$work/err"; expect_rc 2 $? "no input"
grep -q 'no input files' "$work/err" && ok "no input: message" || bad "no input message"
for t in 1.5 -0.1 abc ""; do
  "$exe" predict --model "$model" --threshold "$t" "$img/gray8_d7.png" > /dev/null 2> "$work/err"
  expect_rc 2 $? "--threshold '$t'"
done
"$exe" predict --model "$model" --frobnicate "$img/gray8_d7.png" > /dev/null 2> "$work/err"; expect_rc 2 $? "unknown option"
"$exe" predict "${store[@]}" --model no_such_model "$img/gray8_d7.png" > /dev/null 2> "$work/err"
expect_rc 2 $? "unknown model name"
grep -q "no_such_model" "$work/err" && grep -q "$name" "$work/err" && ok "unknown model: lists the available" \
  || bad "unknown model message: $(cat "$work/err")"
"$exe" predict --model "$work/nope.safetensors" "$img/gray8_d7.png" > /dev/null 2> "$work/err"
expect_rc 3 $? "missing model file"
"$exe" predict --model "$img/gray8_d7.png" "$img/gray8_d7.png" > /dev/null 2> "$work/err"
expect_rc 3 $? "a picture given as the model"
"$exe" predict --set output.model_save_dir="$work/empty" "$img/gray8_d7.png" > /dev/null 2> "$work/err"
expect_rc 3 $? "no models at all"

finish
