/**
 * The science task handlers of the built-in library: `verify`, `multiply`, `binning`,
 * `ingest_lightcurves`, `synthesis_transit` and `transit_search_bls`.
 *
 * @module
 */
export { verifyTask } from './verify.js';
export { multiplyTask, multiplyLightCurves } from './multiply.js';
export { binningTask } from './binning.js';
export { ingestLightcurvesTask, globToRegExp, readExternalLightCurve } from './ingest.js';
export {
  synthesisTransitTask,
  JUPITER_RADIUS_M,
  SUN_RADIUS_M,
  ASTRONOMICAL_UNIT_M,
} from './synthesis.js';
export {
  transitSearchBlsTask,
  transitOutcome,
  DEFAULT_DURATIONS,
  COARSE_FREQUENCY_FACTOR,
} from './bls.js';
