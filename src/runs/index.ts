export {
  MAX_TRAINING_WIDTH, runTraining, TRAIN_DATASETS, TRAIN_OPTIMIZERS,
  type TrainingRunConfig, type TrainingRunOptions, type TrainingRunResult, type TrainingSettings, type TrainingSummary, type TrainRunConfig,
} from './training.js';
export { parsePruneSpec, parseRegrowSpec, trainingHooks, type PruneSpec, type RegrowSpec } from './training-hooks.js';
export * from './study.js';
