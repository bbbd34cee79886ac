#!/usr/bin/env bash
# Makes speech.wav, the spoken-English fixture of AudioCPCTests: a few sentences in four
# espeak-ng voices, 16 kHz mono 16-bit PCM, about 21 s (680 KB). Needs espeak-ng and sox
# (Debian packages of those names). Run from this folder: bash make_speech.sh
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sentences=(
  "The little robot rolled across the kitchen floor and stopped beside the open door."
  "It listened to the rain on the window, then to the kettle starting to boil."
  "Somebody laughed in the next room, and a dog began to bark at the postman."
  "Seven green bottles stood in a row on the shelf above the sink."
  "Please bring me the blue box from the garage before it gets dark."
)
voices=("en-us" "en-gb" "en-us+f3" "en-gb-scotland+m3")
speeds=(150 165 140 175)
pitches=(45 55 70 40)

parts=()
for index in "${!sentences[@]}"; do
  voice_index=$((index % ${#voices[@]}))
  raw="$work/part$index.wav"
  espeak-ng -v "${voices[$voice_index]}" -s "${speeds[$voice_index]}" -p "${pitches[$voice_index]}" \
    -w "$raw" "${sentences[$index]}"
  # Trim the silence espeak-ng leaves at both ends, keep a 0.15 s pause after each sentence.
  sox "$raw" -r 16000 -c 1 -b 16 "$work/part$index-16k.wav" norm -3 \
    silence 1 0.02 1% reverse silence 1 0.02 1% reverse pad 0 0.15
  parts+=("$work/part$index-16k.wav")
done
sox "${parts[@]}" speech.wav
soxi speech.wav
