import { Dataset } from 'dcmjs-dimse';
import { encodeFlatDataset } from './flat-dataset';

/**
 * A dataset the SCP sends (C-FIND match, C-GET/C-MOVE failed-instance list, N-EVENT-REPORT information).
 *
 * Why not dcmjs-dimse's Dataset as it is: its Network passes the `datasetNameMap` option, `{}` by default,
 * to every dataset it writes, and any map (even an empty one) makes Dataset spread dcmjs's whole name
 * dictionary (~5,000 keywords) into a new object and denaturalize through that copy: 4.5 ms instead of
 * 0.5 ms per dataset here, i.e. seconds for a C-FIND with a thousand matches (bench:find found it). The
 * archive uses no private keyword names, so an empty map is dropped. Create it in the accepted transfer
 * syntax of the context it goes out on: dcmjs-dimse transcodes any other into a plain Dataset (encode,
 * parse, encode again), which undoes this. Flat datasets (every C-FIND match) are encoded by
 * `encodeFlatDataset`, without dcmjs.
 */
export class WireDataset extends Dataset {
  override getDenaturalizedDataset(writeOptions?: Record<string, unknown>, nameMap?: Record<string, unknown>): Buffer {
    const customNames = nameMap !== undefined && Object.keys(nameMap).length > 0;
    const flat = customNames ? null : encodeFlatDataset(this.getElements(), this.getTransferSyntaxUid());
    return flat ?? super.getDenaturalizedDataset(writeOptions, customNames ? nameMap : undefined);
  }
}
