#!/usr/bin/env bash
# End to end: data sets. Trains one epoch on the committed Fashion-MNIST subset (IDX, gzip)
# with class names from data.class_names and horizontal flips, then evaluates (names in the
# report, the confusion matrix and evaluation.json) and predicts (class_name). Checks the
# image-folder layout detection and every refusal of a broken image-folder set or a
# normalisation list that does not fit, with the file named and no run folder left behind.
. "$(dirname "$0")/common.sh"
expect_rc() { # want got what
  [ "$2" -eq "$1" ] && ok "$3: exit $2" || { bad "$3: exit $2, want $1"; cat "$work/err" >&2; }
}
has() { # file text what
  grep -qF -- "$2" "$1" && ok "$3" || { bad "$3: no '$2' in"; cat "$1" >&2; }
}
fashion="$here/fixtures/fashion-small"
names='[T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot]'
store=(--set output.model_save_dir="$work/models" --set output.runs_dir="$work/runs")

# --- Fashion-MNIST (IDX) with class names --------------------------------------------------------
"$exe" train --data "$fashion" --set training.epochs=1 --set training.batch_size=8 \
  --set augmentation.horizontal_flip=true --set "data.class_names=$names" "${store[@]}" -q --json \
  > "$work/train.txt" 2> "$work/err"
expect_rc 0 $? "train on the Fashion-MNIST subset"
has "$work/train.txt" "1 x 28 x 28 images, 10 classes: 32 training, 8 validation" "data line: shape and classes"
model=$(tail -n 1 "$work/train.txt" | sed -n 's/.*"model_path":"\([^"]*\)".*/\1/p')
[ -s "$model" ] || { bad "no model file ('$model')"; finish; }
grep -aqF '"class_names":"[\"T-shirt/top\",\"Trouser\",' "$model" && ok "model metadata class_names" \
  || bad "model metadata lacks class_names"
grep -aqF '"data_md5":"{\"train-images\":\"' "$model" && ok "model metadata data_md5" || bad "no data_md5"

"$exe" evaluate --data "$fashion" --model "$model" "${store[@]}" > "$work/eval.txt" 2> "$work/err"
expect_rc 0 $? "evaluate the model"
has "$work/eval.txt" "  Ankle boot  " "classification report row named"
has "$work/eval.txt" "T-shirt/to" "confusion matrix column header (cut to 10)"
run=$(ls -d "$work"/runs/*/ | head -n 1)
has "$run/evaluation.json" '"class_names":["T-shirt/top","Trouser",' "evaluation.json class_names"
has "$run/evaluation.json" '"label":9,"class_name":"Ankle boot"' "evaluation.json per_class class_name"
[ -s "$run/confusion_matrix.png" ] && ok "confusion_matrix.png" || bad "no confusion_matrix.png"

"$exe" predict --model "$model" --json "$fashion/t10k-images-idx3-ubyte.gz" > "$work/pred.txt" 2> "$work/err"
expect_rc 0 $? "predict the IDX test subset"
grep -qE '"label":[0-9],"confidence":[0-9.]+,"low_confidence":(true|false),("warning":"[^"]*",)?"class_name":"[A-Za-z/ -]+"' \
  "$work/pred.txt" && ok "prediction has label and class_name" || bad "prediction lacks class_name"
"$exe" predict --model "$model" "$fashion/t10k-images-idx3-ubyte.gz" > "$work/pred2.txt" 2> "$work/err"
grep -qE '\[0\]: [0-9] \([A-Za-z/ -]+\)  confidence' "$work/pred2.txt" && ok "text prediction shows the name" \
  || { bad "text prediction lacks the name"; cat "$work/pred2.txt" >&2; }

# --- an image-folder set DigitCNN can take: 10 classes of 28x28 gray pictures ------------------
digits="$here/fixtures/imagefolder-digits"
rm -rf "$work/runs" "$work/models"
"$exe" train --data "$digits" --set training.epochs=1 --set training.batch_size=8 "${store[@]}" -q --json \
  > "$work/train2.txt" 2> "$work/err"
expect_rc 0 $? "train on image folders"
has "$work/train2.txt" "1 x 28 x 28 images, 10 classes: 50 training, 10 validation" "folder data line"
model2=$(tail -n 1 "$work/train2.txt" | sed -n 's/.*"model_path":"\([^"]*\)".*/\1/p')
grep -aqF '"class_names":"[\"0-zero\",\"1-one\",' "$model2" && ok "folder names in the model" || bad "folder names"
grep -aqF '"data_md5":"{\"train\":\"' "$model2" && ok "folder md5 in the model" || bad "folder md5"
"$exe" evaluate --data "$digits" --model "$model2" "${store[@]}" > "$work/eval2.txt" 2> "$work/err"
expect_rc 0 $? "evaluate on image folders"
has "$work/eval2.txt" "test set: $digits, 20 images" "20 test pictures"
has "$work/eval2.txt" "     9-nine  " "report row named after the folder"
"$exe" predict --model "$model2" --json "$digits"/test/3-three/*.png > "$work/pred3.txt" 2> "$work/err"
expect_rc 0 $? "predict pictures with a folder-trained model"
grep -qE '"class_name":"[0-9]-[a-z]+"' "$work/pred3.txt" && ok "picture prediction named" \
  || { bad "picture prediction lacks the folder name"; cat "$work/pred3.txt" >&2; }

# --- an RGB image-folder set (3 x 8 x 8, 3 classes) with a network from YAML -------------------
rgb="$here/fixtures/imagefolder"
rgbcfg="$here/fixtures/imagefolder-rgb.yaml"
rm -rf "$work/runs" "$work/models"
"$exe" train --config "$rgbcfg" --data "$rgb" "${store[@]}" -q --json > "$work/train3.txt" 2> "$work/err"
expect_rc 0 $? "train a network from YAML on RGB image folders"
has "$work/train3.txt" "3 x 8 x 8 images, 3 classes:" "RGB folder data line"
model3=$(tail -n 1 "$work/train3.txt" | sed -n 's/.*"model_path":"\([^"]*\)".*/\1/p')
grep -aqF '"class_names":"[\"circle\",\"cross\",\"square\"]"' "$model3" && ok "RGB folder names in the model" \
  || bad "RGB folder names"
"$exe" evaluate --config "$rgbcfg" --data "$rgb" --model "$model3" "${store[@]}" > "$work/eval3.txt" 2> "$work/err"
expect_rc 0 $? "evaluate the RGB model"
has "$work/eval3.txt" "test set: $rgb, 6 images" "6 RGB test pictures"
has "$work/eval3.txt" "      square  " "RGB report row named"
run3=$(ls -d "$work"/runs/*/ | head -n 1)
has "$run3/evaluation.json" '"mean_per_channel":[0.5,0.5,0.5]' "per-channel normalisation in evaluation.json"
# pictures of the model's size, of another size (resized) and gray (to RGB)
"$exe" predict --model "$model3" --json "$rgb"/test/*/*.png "$here/fixtures/images/rgb_d0.png" \
  "$here/fixtures/imagefolder-gray/test/cross/cross_0.png" > "$work/pred4.txt" 2> "$work/err"
expect_rc 0 $? "predict pictures with the RGB model"
n=$(grep -oE '"class_name":"(circle|cross|square)"' "$work/pred4.txt" | wc -l)
[ "$n" -eq 8 ] && ok "8 pictures named circle/cross/square" || { bad "$n of 8 named"; cat "$work/pred4.txt" >&2; }

# --- refusals: nothing is written --------------------------------------------------------------
refuse() { # what want args...
  local what=$1 want=$2
  shift 2
  rm -rf "$work/r"
  "$exe" train --set training.epochs=1 --set output.model_save_dir="$work/r/models" \
    --set output.runs_dir="$work/r/runs" -q "$@" > /dev/null 2> "$work/err"
  local rc=$?
  [ "$rc" -ne 0 ] && ok "$what: exit $rc" || bad "$what: exit 0"
  has "$work/err" "$want" "$what: message"
  [ -z "$(ls -A "$work/r/runs" 2> /dev/null)" ] && ok "$what: no run folder" || bad "$what: a run folder was left"
}
bad_sets="$here/fixtures/imagefolder-bad"
refuse "mixed sizes" "mixed/train/b/2.png: picture is 9 x 8 pixels but the data set's pictures are 8 x 8" \
  --data "$bad_sets/mixed"
refuse "empty class" "empty/train/c: class 'c' has no pictures" --data "$bad_sets/empty"
refuse "unreadable picture" "unreadable/train/b/1.png: not a PNG or PGM image" --data "$bad_sets/unreadable"
refuse "mean list length" "--set data.mean=[0.1, 0.2, 0.3]: data.mean has 3 values but the data set's images have 1 channel" \
  --data "$fashion" --set "data.mean=[0.1, 0.2, 0.3]"
refuse "class_names length" "data.class_names has 2 names but the data set" --data "$fashion" \
  --set "data.class_names=[a, b]"
# an RGB image-folder set is read (3 x 8 x 8, 3 classes); DigitCNN cannot take it, and says what to set
refuse "image folders vs DigitCNN" "has images of 3 x 8 x 8; set network.input to {channels: 3, height: 8, width: 8}" \
  --data "$here/fixtures/imagefolder"

finish
