/** The daemon's and the agent's version; the agent files are delivered under this name. */
export const VERSION = '0.1.0';
