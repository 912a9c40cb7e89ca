/**
 * Pure numerics for light curves: the {@link LightCurve} type (typed arrays, times in seconds),
 * the gzip-text format with its `.metadata.cfg` sidecar, the comma-separated `time,flux,flag`
 * input format, flux-conserving resampling and binning, and gap detection. Imports nothing from
 * the pipeline.
 *
 * @example
 * ```ts
 * import { readLightCurveGz, binLightCurve, findGaps, writeLightCurveGz } from './science/index.js';
 * const lc = readLightCurveGz('demo_superearth.gz'); // + demo_superearth.gz.metadata.cfg
 * const binned = binLightCurve(lc, 1800); // 23,040 → 11,520 samples
 * const { gaps } = findGaps(lc.time); // cadence = median Δt = 900 s
 * const bytes = writeLightCurveGz(binned);
 * ```
 * @module
 */
export {
  createLightCurve,
  lightCurveLength,
  isTimeSorted,
  medianCadence,
  sliceLightCurveByTime,
  flagsAreMeaningful,
  goodSampleMask,
  type LightCurve,
  type LightCurveMetadata,
  type LightCurveParts,
} from './lightcurve.js';
export {
  LightCurveFormatError,
  parseLightCurveText,
  readLightCurveGz,
  formatLightCurveText,
  writeLightCurveGz,
  saveLightCurveGz,
  sidecarPath,
  readMetadataCfg,
  writeMetadataCfg,
  parseMetadataValue,
  formatNumpyExp,
  readCsvLightCurve,
  type ParseLightCurveOptions,
  type ReadLightCurveOptions,
  type WriteLightCurveOptions,
  type ReadMetadataCfgOptions,
  type ReadCsvOptions,
} from './formats.js';
export {
  resampleFluxConserving,
  resampleDetailed,
  binLightCurve,
  type ResampleOptions,
  type ResampleResult,
  type BinOptions,
} from './resample.js';
export { findGaps, type Gap, type GapReport, type FindGapsOptions } from './gaps.js';
export {
  occultQuadratic,
  transitLightCurve,
  transitDepth,
  cel,
  ellipticK,
  ellipticE,
  ellipticPi,
  type TransitParams,
} from './transit-model.js';
export {
  AU_M,
  SOLAR_RADIUS_M,
  SECONDS_PER_DAY,
  aOverRsFromAu,
  impactParameterFromInclination,
  inclinationFromImpactParameter,
  transitDurationT14,
  transitDurationT23,
  aOverRsFromT14,
  projectedSeparation,
  resolveCosInclination,
  solveKepler,
  type OrbitParams,
} from './orbit.js';
export {
  boxLeastSquares,
  prepareBoxLeastSquares,
  blsSpectrum,
  blsResult,
  emptySpectrum,
  autoPeriodGrid,
  signalDetectionEfficiency,
  topPeaks,
  type BoxLeastSquaresOptions,
  type BoxLeastSquaresResult,
  type PreparedBls,
  type BlsSpectrum,
  type AutoPeriodGridOptions,
  type PeriodogramPeak,
  type TopPeaksOptions,
} from './bls.js';
export {
  boxLeastSquaresInThreads,
  closeBlsThreads,
  MIN_PERIODS_PER_SHARE,
  type BoxLeastSquaresThreadsOptions,
} from './bls-threads.js';
