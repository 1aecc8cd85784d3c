import { createPackageConfig } from '../../jest.config';

export default createPackageConfig(__dirname);
