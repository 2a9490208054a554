// The workflow bundle's entry point: every workflow the worker runs.
export { deletionWizard } from './deletion-wizard';
