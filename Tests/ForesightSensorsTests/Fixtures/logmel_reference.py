# Reference log-mel frames computed in float64 with numpy/scipy, for LogMelTests. Run by hand
# (`python3 logmel_reference.py > logmel_reference.json`); CI only reads the JSON it wrote.
# The definition mirrors LogMelSpectrogram: periodic Hann (scipy.signal.get_window), rfft of
# the window zero-padded to n_fft, power, HTK mel triangles with peak 1, log(max(e, 1e-6)).
import json
import numpy as np
from scipy.signal import get_window

rate, n_fft, win, hop, bands, f_low, f_high = 16000, 512, 400, 160, 40, 20.0, 8000.0

def signal(count):
    # Must match LogMelTests.referenceSignal.
    t = np.arange(count) / rate
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.25 * np.sin(2 * np.pi * 3000 * t + 0.3)
    x += 0.2 * np.sin(2 * np.pi * (200 * t + 1500 * t * t))
    for k in range(1, 32):
        x += 0.01 * np.sin(2 * np.pi * 250 * k * t + 0.1 * k)
    return x

def mel(f): return 2595 * np.log10(1 + f / 700)
def hertz(m): return 700 * (10 ** (m / 2595) - 1)

edges = hertz(np.linspace(mel(f_low), mel(f_high), bands + 2))
freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
filters = np.zeros((bands, freqs.size))
for m in range(bands):
    left, center, right = edges[m], edges[m + 1], edges[m + 2]
    filters[m] = np.maximum(0, np.minimum((freqs - left) / (center - left), (right - freqs) / (right - center)))

x = signal(1600)
window = get_window("hann", win)  # periodic by default
frames = []
for start in range(0, x.size - win + 1, hop):
    padded = np.zeros(n_fft)
    padded[:win] = x[start:start + win] * window
    power = np.abs(np.fft.rfft(padded)) ** 2
    frames.append(np.log(np.maximum(filters @ power, 1e-6)).tolist())
print(json.dumps({"sampleRate": rate, "fftSize": n_fft, "windowLength": win, "hopLength": hop,
                  "melBands": bands, "lowFrequency": f_low, "highFrequency": f_high, "frames": frames}))
