export {
  DEFAULT_LSTM_CLIP, DEFAULT_SEQ, MAX_TRAINING_WIDTH, resumeCheckpointDir, runTraining, TRAIN_DATASETS, TRAIN_MODELS, TRAIN_OPTIMIZERS,
  type ClassificationSummary, type LanguageModelSummary, type TrainData, type TrainingRunConfig, type TrainingRunOptions, type TrainingRunResult,
  type TrainingSettings, type TrainingSummary, type TrainingSummaryBase, type TrainRunConfig,
} from './training.js';
export { parsePruneSpec, parseRegrowSpec, trainingHooks, type PruneSpec, type RegrowSpec } from './training-hooks.js';
export { sampleRun, type SampleRunOptions, type SampleRunResult } from './sampling.js';
export * from './study.js';
export * from './lstm-study.js';
export * from './cnn-study.js';
export { loadModel, predictRun, type LoadedModel, type LoadModelOptions, type PredictRunOptions, type PredictRunResult } from './inference.js';
export { levelDirName, pruneRun, PRUNE_SUMMARY_FILE, type PrunedLevel, type PruneRunConfig, type PruneRunOptions, type PruneSummary } from './pruning.js';
