#!/usr/bin/env python3
"""astropy's BoxLeastSquares on a given period grid, for bench/scenarios/bls-vs-astropy.ts.

Usage:
  astropy_bls_bench.py check
      exit 0 when astropy's BoxLeastSquares imports (prints the version), else exit 3.
  astropy_bls_bench.py run LIGHTCURVE.gz PERIODS.f64 --durations 0.05,0.1,0.15,0.2
      Read a PLATO light curve (gzip text: time [s], flux, flag, uncertainty; '#' comments),
      convert time to days, read the trial periods (raw little-endian float64), run
      BoxLeastSquares(t, flux).power(periods, durations) with uniform weights, and print one
      JSON object: the wall time of the power call alone, the best period, depth, t0 and SDE.
"""
import argparse
import gzip
import json
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["check", "run"])
    parser.add_argument("lightcurve", nargs="?")
    parser.add_argument("periods", nargs="?")
    parser.add_argument("--durations", default="0.05,0.1,0.15,0.2")
    args = parser.parse_args()
    try:
        import numpy as np
        from astropy.timeseries import BoxLeastSquares
        import astropy
    except Exception as exc:  # noqa: BLE001 - report any import failure
        print(f"astropy unavailable: {exc!r}", file=sys.stderr)
        return 3
    if args.mode == "check":
        print(astropy.__version__)
        return 0
    if not args.lightcurve or not args.periods:
        parser.error("run needs a light curve and a periods file")

    with gzip.open(args.lightcurve, "rt") as fh:
        data = np.loadtxt(fh, comments="#", usecols=(0, 1))
    t = data[:, 0] / 86400.0
    flux = data[:, 1]
    durations = np.array([float(d) for d in args.durations.split(",")])
    periods = np.fromfile(args.periods, dtype="<f8")

    bls = BoxLeastSquares(t, flux)
    start = time.perf_counter()
    res = bls.power(periods, durations)
    elapsed = time.perf_counter() - start
    power = np.asarray(res.power)
    best = int(np.argmax(power))
    finite = power[np.isfinite(power)]
    std = float(np.std(finite))
    sde = float((finite.max() - finite.mean()) / std) if std > 0 else float("nan")
    json.dump(
        {
            "astropy": astropy.__version__,
            "seconds": elapsed,
            "n": int(t.size),
            "periods": int(periods.size),
            "best": {
                "index": best,
                "period": float(res.period[best]),
                "power": float(power[best]),
                "depth": float(res.depth[best]),
                "duration": float(res.duration[best]),
                "t0": float(res.transit_time[best]),
                "sde": sde,
            },
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
