/**
 * Every activity the worker registers. Workflows import this module as a type only
 * (`import type * as activities`), so nothing here enters the workflow sandbox.
 */
export { ping } from './ping';
